//! The I/O threads: every blocking operation the loop needs that is not the database's —
//! building the patch index, reading patch chunks, reading the config file on reload, and
//! checking a console login's password (PBKDF2 or an SRP verifier, CPU work too slow for the
//! loop that must not hold up the DB threads either) — so no file is touched and no slow hash
//! runs on the loop. Requests arrive over a bounded crossbeam channel; answers go to a callback
//! that posts them into the loop's inbox. Open files are kept per path, so a chunk costs one
//! `pread`; at most [`MAX_OPEN_FILES`] at once, which the daemon counts in its descriptor
//! budget. Who asked (`T`) is the caller's business: it comes back with the answer.
//!
//! The daemon runs two: `io` for files, and `hash` for password checks, so a patch read never
//! waits behind a PBKDF2 and a password check never waits behind a patch directory's MD5s.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender, TrySendError};

use crate::config::{Config, ConfigError};
use crate::console::login::{CredentialCheck, PasswordVerdict};
use crate::patches::{PatchError, PatchIndex};

/// Patch files held open at once; the cache is emptied when it is full.
pub const MAX_OPEN_FILES: usize = 16;

pub enum IoRequest<T> {
    /// (Re)build the index of a patch directory.
    Index { dir: PathBuf },
    /// Read and check the config file (SIGHUP).
    LoadConfig { path: PathBuf },
    /// Read `len` bytes of `path` from `offset` (fewer at the end of the file).
    Read {
        target: T,
        path: PathBuf,
        offset: u64,
        len: usize,
    },
    /// Check a console login's password.
    CheckCredential { target: T, check: CredentialCheck },
}

pub enum IoReply<T> {
    Indexed(Result<PatchIndex, PatchError>),
    ConfigLoaded(Result<Box<Config>, ConfigError>),
    Chunk {
        target: T,
        offset: u64,
        data: Result<Vec<u8>, PatchError>,
    },
    CredentialChecked {
        target: T,
        verdict: PasswordVerdict,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("the I/O queue is full")]
    Busy,
    #[error("the I/O thread has stopped")]
    Stopped,
    #[error("cannot start an I/O thread: {0}")]
    Spawn(std::io::Error),
}

pub struct IoPool<T> {
    tx: Option<Sender<IoRequest<T>>>,
    thread: Option<JoinHandle<()>>,
}

fn read_chunk(
    files: &mut HashMap<PathBuf, File>,
    path: &PathBuf,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, PatchError> {
    let err = |source| PatchError::File {
        path: path.clone(),
        source,
    };
    if !files.contains_key(path) {
        if files.len() >= MAX_OPEN_FILES {
            files.clear();
        }
        let file = File::open(path).map_err(err)?;
        files.insert(path.clone(), file);
    }
    let Some(file) = files.get(path) else {
        return Ok(Vec::new());
    };
    let mut data = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut data[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    data.truncate(filled);
    Ok(data)
}

impl<T: Send + 'static> IoPool<T> {
    /// Starts one thread called `name`, behind a queue of `queue` requests.
    pub fn start(
        name: &str,
        queue: usize,
        reply: impl Fn(IoReply<T>) + Send + 'static,
    ) -> Result<Self, IoError> {
        let (tx, rx) = bounded::<IoRequest<T>>(queue);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut files: HashMap<PathBuf, File> = HashMap::new();
                for request in rx {
                    match request {
                        IoRequest::Index { dir } => {
                            // A re-index may replace files: read them afresh.
                            files.clear();
                            reply(IoReply::Indexed(PatchIndex::build(&dir)));
                        }
                        IoRequest::LoadConfig { path } => {
                            reply(IoReply::ConfigLoaded(Config::load(&path).map(Box::new)));
                        }
                        IoRequest::Read {
                            target,
                            path,
                            offset,
                            len,
                        } => {
                            let data = read_chunk(&mut files, &path, offset, len);
                            reply(IoReply::Chunk {
                                target,
                                offset,
                                data,
                            });
                        }
                        IoRequest::CheckCredential { target, check } => {
                            let verdict = check.run();
                            reply(IoReply::CredentialChecked { target, verdict });
                        }
                    }
                }
            })
            .map_err(IoError::Spawn)?;
        Ok(IoPool {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Never blocks: a full queue is `Busy`.
    pub fn submit(&self, request: IoRequest<T>) -> Result<(), IoError> {
        let tx = self.tx.as_ref().ok_or(IoError::Stopped)?;
        tx.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => IoError::Busy,
            TrySendError::Disconnected(_) => IoError::Stopped,
        })
    }

    /// Stops taking requests, lets the queued ones finish, and joins the thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl<T> Drop for IoPool<T> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
