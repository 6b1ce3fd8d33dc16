//! The daemon's error: what can stop it from starting or serving.

use std::io;
use std::net::SocketAddr;

use crate::io_worker::IoError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("event loop: {0}")]
    Loop(#[from] io::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] IoError),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    TestDelay(#[from] crate::store::test_delay::DelayError),
}
