//! The listening sockets, and the descriptor budget they live within.
//!
//! Listeners are edge-triggered: a readiness edge comes when a connection arrives, and none
//! while the backlog stays full. So an accept that fails for want of descriptors or memory must
//! not wait for the next edge: [`Listeners::next`] says `Retry`, and the router tries again on
//! a short timer. Out of descriptors, a spare descriptor is given up to accept the waiting
//! connection and close it at once (its client sees a refusal instead of a hang), then taken
//! back. At start the connection cap is fitted to the open-file limit with everything else that
//! holds descriptors counted, so a flood meets the cap, not EMFILE.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry};

use super::consoles::MAX_CONSOLES;
use super::error::DaemonError;
use super::links::MAX_LINKS;
use super::scrapes::MAX_SCRAPES;
use crate::config::Config;
use crate::event_loop::fixed_token;
use crate::io_worker::MAX_OPEN_FILES;

/// Descriptors for everything not counted on its own: stdin/out/err, the poll, the waker,
/// the signal pipe, the log, the spare, a config reload, the store's first open at start.
const MISC_FDS: u64 = 32;
/// Files one SQLite connection holds open: the database, its WAL and its shared memory.
const FDS_PER_DB_THREAD: u64 = 3;

/// What a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Game clients.
    Game,
    /// World servers (the realm link).
    Link,
    /// Operators (the debug console).
    Console,
    /// Monitoring systems (`GET /metrics`).
    Metrics,
}

struct Listener {
    /// `None` once closed (the drain stops the kernel from accepting).
    socket: Option<TcpListener>,
    addr: SocketAddr,
    kind: ListenerKind,
}

/// The outcome of one accept.
pub enum Accepted {
    Conn(TcpStream, SocketAddr),
    /// The backlog is empty.
    Drained,
    /// Out of descriptors: a waiting connection was accepted and closed at once.
    Shed,
    /// Accepting failed for want of a resource: try again shortly.
    Retry(io::Error),
}

pub struct Listeners {
    list: Vec<Listener>,
    /// Given up to accept-and-close when out of descriptors.
    spare: Option<File>,
}

/// Whether other processes may listen on a listener's port too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortSharing {
    Exclusive,
    /// `SO_REUSEPORT`: every process that set it on the same address gets a share of the new
    /// connections (server.share_port).
    Shared,
}

/// A non-blocking listening socket on `addr`, as `TcpListener::bind` makes it (SO_REUSEADDR,
/// so a restart need not wait for old connections' TIME_WAIT), and shared if asked.
fn listen(addr: SocketAddr, sharing: PortSharing) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if sharing == PortSharing::Shared {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(TcpListener::from_std(socket.into()))
}

impl Listeners {
    /// Binds every configured listener and registers it under its fixed token.
    pub fn bind(config: &Config, registry: &Registry) -> Result<Listeners, DaemonError> {
        let wanted = (config
            .server
            .listen
            .iter()
            .map(|a| (*a, ListenerKind::Game)))
        .chain(config.link.listen.iter().map(|a| (*a, ListenerKind::Link)))
        .chain(
            config
                .console
                .listen
                .iter()
                .map(|a| (*a, ListenerKind::Console)),
        )
        .chain(
            config
                .metrics
                .listen
                .iter()
                .map(|a| (*a, ListenerKind::Metrics)),
        );
        let mut list = Vec::new();
        for (i, (addr, kind)) in wanted.enumerate() {
            let sharing = match kind {
                ListenerKind::Game if config.server.share_port => PortSharing::Shared,
                _ => PortSharing::Exclusive,
            };
            let mut socket =
                listen(addr, sharing).map_err(|source| DaemonError::Bind { addr, source })?;
            let local = socket.local_addr()?;
            registry.register(&mut socket, fixed_token(i), Interest::READABLE)?;
            list.push(Listener {
                socket: Some(socket),
                addr: local,
                kind,
            });
        }
        Ok(Listeners {
            list,
            spare: open_spare(),
        })
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn kind(&self, index: usize) -> Option<ListenerKind> {
        self.list.get(index).map(|l| l.kind)
    }

    pub fn addrs(&self, kind: ListenerKind) -> Vec<SocketAddr> {
        self.list
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.addr)
            .collect()
    }

    pub fn describe(&self) -> Vec<(SocketAddr, ListenerKind)> {
        self.list.iter().map(|l| (l.addr, l.kind)).collect()
    }

    /// The next connection waiting on listener `index`.
    pub fn next(&mut self, index: usize) -> Accepted {
        let Some(listener) = self.list.get(index) else {
            return Accepted::Drained;
        };
        let Some(socket) = &listener.socket else {
            return Accepted::Drained;
        };
        loop {
            match socket.accept() {
                Ok((stream, peer)) => return Accepted::Conn(stream, peer),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Accepted::Drained,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // The peer gave up while queued: nothing to do, take the next.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
                    ) =>
                {
                    continue
                }
                Err(e) if is_out_of_descriptors(&e) => {
                    let Some(spare) = self.spare.take() else {
                        return Accepted::Retry(e);
                    };
                    drop(spare);
                    let shed = socket.accept();
                    self.spare = open_spare();
                    return match shed {
                        Ok((stream, _)) => {
                            drop(stream);
                            Accepted::Shed
                        }
                        Err(_) => Accepted::Retry(e),
                    };
                }
                Err(e) => return Accepted::Retry(e),
            }
        }
    }

    /// Stops the kernel from accepting: the sockets are closed, so new connections are
    /// refused at once instead of completing a handshake nobody will serve.
    pub fn close_all(&mut self, registry: &Registry) {
        for listener in &mut self.list {
            if let Some(mut socket) = listener.socket.take() {
                let _ = registry.deregister(&mut socket);
            }
        }
    }
}

fn open_spare() -> Option<File> {
    File::open("/dev/null").ok()
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE (this process) and ENFILE (the system).
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

/// Descriptors the daemon needs besides its client connections.
pub fn descriptors_besides_clients(config: &Config) -> u64 {
    let listeners = (config.server.listen.len() + config.link.listen.len()) as u64
        + config.console.listen.len() as u64
        + config.metrics.listen.len() as u64;
    // A scrape table only when there is a metrics listener.
    let scrapes = match config.metrics.listen.is_empty() {
        true => 0,
        false => MAX_SCRAPES as u64,
    };
    let db = (config.store.threads as u64).saturating_mul(FDS_PER_DB_THREAD);
    (MAX_LINKS as u64)
        .saturating_add(MAX_CONSOLES as u64)
        .saturating_add(scrapes)
        .saturating_add(listeners)
        .saturating_add(db)
        .saturating_add(MAX_OPEN_FILES as u64)
        .saturating_add(MISC_FDS)
}

/// Keeps `limits.max_connections` below the open-file limit, raising the soft limit towards the
/// hard one first, so that a flood meets the connection cap (closed at accept, counted)
/// rather than EMFILE.
pub fn fit_connections_to_fd_limit(config: &mut Config) {
    let others = descriptors_besides_clients(config);
    let wanted = (config.limits.max_connections as u64).saturating_add(others);
    let available = match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) => limit,
        Err(e) => {
            log::warn!("cannot read the open-file limit: {e}");
            return;
        }
    };
    if available < wanted {
        let fit = available.saturating_sub(others);
        let fit = usize::try_from(fit).unwrap_or(usize::MAX).max(1);
        log::warn!(
            "limits.max_connections {} does not fit the open-file limit {available} \
             ({others} descriptors are kept for links, consoles, the database and patches); \
             serving at most {fit} (raise LimitNOFILE)",
            config.limits.max_connections
        );
        config.limits.max_connections = fit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_db_threads_and_does_not_wrap() {
        let mut config = Config::default();
        config.store.threads = 4;
        let four = descriptors_besides_clients(&config);
        config.store.threads = 8;
        assert_eq!(
            descriptors_besides_clients(&config),
            four + 4 * FDS_PER_DB_THREAD
        );
        config.store.threads = usize::MAX;
        assert_eq!(descriptors_besides_clients(&config), u64::MAX);
        config.store.threads = 1;
        config.limits.max_connections = usize::MAX;
        // Must not panic or wrap to a small number.
        fit_connections_to_fd_limit(&mut config);
        assert!(config.limits.max_connections >= 1);
    }
}
