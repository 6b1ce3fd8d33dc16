//! How one write begins on MySQL/MariaDB: its own transaction (`START TRANSACTION` …
//! `COMMIT`), or, inside a group commit, a savepoint of the batch's transaction, which the
//! batch commits once for all of them. Either is a [`Queryable`], so the statements of a write
//! are the same both ways.

use mysql::prelude::{AsStatement, Queryable};
use mysql::{Binary, Conn, Params, QueryResult, Statement, Text, Transaction, TxOpts};

use super::lockout::Changed;

/// The savepoint each write of a batch runs in (one at a time, so one name does).
const SAVEPOINT: &str = "gatehouse_write";

/// Whether a group commit is open on a connection, as the write methods see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Batching {
    Alone,
    InBatch,
}

/// One write's all-or-nothing.
pub(in crate::store) enum WriteTx<'c> {
    Own(Transaction<'c>),
    InBatch(BatchWrite<'c>),
}

/// A write inside a group commit: rolled back to its savepoint when dropped uncommitted.
pub(in crate::store) struct BatchWrite<'c> {
    conn: &'c mut Conn,
    kept: bool,
}

impl<'c> WriteTx<'c> {
    pub(in crate::store) fn begin(conn: &'c mut Conn, batching: Batching) -> mysql::Result<Self> {
        match batching {
            Batching::Alone => conn.start_transaction(TxOpts::default()).map(WriteTx::Own),
            Batching::InBatch => {
                conn.query_drop(format!("SAVEPOINT {SAVEPOINT}"))?;
                Ok(WriteTx::InBatch(BatchWrite { conn, kept: false }))
            }
        }
    }

    /// Commits the write (in a batch: keeps it for the batch's commit).
    pub(in crate::store) fn commit(self) -> mysql::Result<()> {
        match self {
            WriteTx::Own(tx) => tx.commit(),
            WriteTx::InBatch(mut write) => {
                write.kept = true;
                write
                    .conn
                    .query_drop(format!("RELEASE SAVEPOINT {SAVEPOINT}"))
            }
        }
    }

    pub(in crate::store) fn affected_rows(&self) -> u64 {
        match self {
            WriteTx::Own(tx) => tx.affected_rows(),
            WriteTx::InBatch(write) => write.conn.affected_rows(),
        }
    }
}

impl Drop for BatchWrite<'_> {
    fn drop(&mut self) {
        if !self.kept {
            // The batch goes on without this write. Should even this fail, the connection is
            // in trouble and the batch's commit will say so.
            let _ = self
                .conn
                .query_drop(format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"));
        }
    }
}

impl Changed for WriteTx<'_> {
    fn changed(&self) -> u64 {
        self.affected_rows()
    }
}

impl Queryable for WriteTx<'_> {
    fn query_iter<Q: AsRef<str>>(
        &mut self,
        query: Q,
    ) -> mysql::Result<QueryResult<'_, '_, '_, Text>> {
        match self {
            WriteTx::Own(tx) => tx.query_iter(query),
            WriteTx::InBatch(write) => write.conn.query_iter(query),
        }
    }

    fn prep<Q: AsRef<str>>(&mut self, query: Q) -> mysql::Result<Statement> {
        match self {
            WriteTx::Own(tx) => tx.prep(query),
            WriteTx::InBatch(write) => write.conn.prep(query),
        }
    }

    fn close(&mut self, stmt: Statement) -> mysql::Result<()> {
        match self {
            WriteTx::Own(tx) => tx.close(stmt),
            WriteTx::InBatch(write) => write.conn.close(stmt),
        }
    }

    fn exec_iter<S, P>(
        &mut self,
        stmt: S,
        params: P,
    ) -> mysql::Result<QueryResult<'_, '_, '_, Binary>>
    where
        S: AsStatement,
        P: Into<Params>,
    {
        match self {
            WriteTx::Own(tx) => tx.exec_iter(stmt, params),
            WriteTx::InBatch(write) => write.conn.exec_iter(stmt, params),
        }
    }

    fn exec_batch<S, P, I>(&mut self, stmt: S, params: I) -> mysql::Result<()>
    where
        Self: Sized,
        S: AsStatement,
        P: Into<Params>,
        I: IntoIterator<Item = P>,
    {
        match self {
            WriteTx::Own(tx) => tx.exec_batch(stmt, params),
            WriteTx::InBatch(write) => write.conn.exec_batch(stmt, params),
        }
    }
}
