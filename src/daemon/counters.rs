//! Counters the daemon keeps about itself (loop thread only, so plain integers).

#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub accepted: u64,
    pub closed: u64,
    pub refused_full: u64,
    pub protocol_errors: u64,
    pub deadlines: u64,
    pub store_busy: u64,
    /// Logons and reconnects that reached the realm list.
    pub logons_ok: u64,
    /// Patch bytes read from disk for clients (each read only when its ring had room).
    pub patch_bytes_read: u64,
}
