//! How one SQLite write begins: its turn among this process's writers, and its transaction —
//! its own (`BEGIN IMMEDIATE` … `COMMIT`), or, inside a group commit, a savepoint of the
//! batch's transaction, which the batch commits once for all of them.

use std::ops::Deref;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, Savepoint, Transaction, TransactionBehavior};

/// Writers of one database in this process take turns before they begin a write transaction.
/// SQLite lets only one writer in at a time and makes the others poll with growing sleeps,
/// which starves an unlucky DB thread for seconds under load; waiting for the turn instead
/// keeps the turns short and fair. Other processes (the CLI) still meet SQLite's busy
/// timeout. A turn is a token in a one-slot channel, so a group commit can hold it from
/// `begin_batch` to `end_batch`.
#[derive(Clone)]
pub struct WriteTurns {
    give: Sender<()>,
    take: Receiver<()>,
}

impl Default for WriteTurns {
    fn default() -> Self {
        let (give, take) = crossbeam_channel::bounded(1);
        // The channel is new and has room for the one token.
        let _ = give.try_send(());
        WriteTurns { give, take }
    }
}

impl WriteTurns {
    /// Waits for the turn; it passes on when the [`Turn`] is dropped.
    pub(super) fn take(&self) -> Turn {
        // The token is always somewhere: in the channel or in a live Turn, which gives it
        // back when dropped (also while unwinding), and this WriteTurns holds a sender.
        let _ = self.take.recv();
        Turn {
            give: self.give.clone(),
        }
    }
}

/// One writer's turn; the next writer's when dropped.
pub(super) struct Turn {
    give: Sender<()>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = self.give.try_send(());
    }
}

/// One write's all-or-nothing.
pub(super) enum WriteTx<'c> {
    /// A write on its own: a transaction that holds the write lock from its first statement.
    Own(Transaction<'c>),
    /// A write in a group commit: rolled back alone if it fails, committed with the batch.
    InBatch(Savepoint<'c>),
}

impl<'c> WriteTx<'c> {
    pub(super) fn begin(conn: &'c mut Connection, in_batch: bool) -> rusqlite::Result<Self> {
        if in_batch {
            conn.savepoint().map(WriteTx::InBatch)
        } else {
            conn.transaction_with_behavior(TransactionBehavior::Immediate)
                .map(WriteTx::Own)
        }
    }

    /// Commits the write (in a batch: keeps it for the batch's commit).
    pub(super) fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::Own(tx) => tx.commit(),
            WriteTx::InBatch(sp) => sp.commit(),
        }
    }
}

impl Deref for WriteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            WriteTx::Own(tx) => tx,
            WriteTx::InBatch(sp) => sp,
        }
    }
}
