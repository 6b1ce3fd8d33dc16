//! Metrics a monitoring system can scrape: the pieces of the `/metrics` endpoint that know no
//! connection. [`histogram`] is the duration histogram the loop keeps its pass times and the
//! store's latencies in; [`exposition`] turns a snapshot of the daemon's counters into the
//! Prometheus text format; [`http`] reads a scrape's request and writes its answer. The
//! connections themselves are a kind of the daemon's (`daemon::scrapes`), served on the loop
//! like every other.

pub mod exposition;
pub mod histogram;
pub mod http;

pub use exposition::{RealmRow, Snapshot, StoreRow};
pub use histogram::Log2Histogram;
