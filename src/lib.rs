//! gatehouse: a login server ("authserver", "realmd") for game worlds that speak the World of
//! Warcraft login protocol — clients 1.12.1 (5875), 2.4.3 (8606) and 3.3.5a (12340).
//!
//! # A tour of the layout
//!
//! One thread runs [`event_loop`]: a mio poll loop that owns every socket and all state. A
//! client's bytes arrive in its [`net`] connection's fixed input ring; the [`session`] state
//! (Logon → WorldSelect) frames them with the [`protocol`] codec, runs the [`srp6`] handshake,
//! and encodes its answer straight into the output ring. Whatever needs the database goes to
//! the [`store`] threads over crossbeam-channel, and their replies come back through the loop's
//! inbox (a double-buffered swap queue woken by a `mio::Waker`). [`daemon`] is the handler that
//! ties these together on the loop: a router over one connection table per kind (game clients,
//! realm links, [`console`] sessions) that share one lifecycle. [`realms`] keeps the realm
//! registry, the realm-link protocol and the realm list, encoded once per change and sent to
//! every client from that one shared encoding (not copied into its ring); [`policy`]
//! holds the abuse policies (bans, caps, rates, lockouts) as filters on connects, logons and
//! console logins.
//!
//! - [`config`]: the config file and its defaults; [`logging`]: a log backend that never blocks;
//!   [`log_throttle`]: one line plus a count for a warning repeated in a window;
//!   [`metrics`]: the Prometheus text page a monitoring system scrapes (`metrics.listen`).
//! - [`account`]: the name/password rules; [`admin`]: operator commands on the store's API;
//!   [`totp`]: the authenticator second factor (sealed secrets, token checks); [`pin_grid`]:
//!   the 1.12 PIN grid (a fixed PIN or the TOTP token typed on a shuffled keypad); [`integrity`]:
//!   the client integrity check (`server.strict_version_check`, checksum seeds per build and OS).
//! - [`patches`]: the patch index; [`io_worker`]: the threads that do the loop's slow work
//!   (patch index and chunks, config reload; on a thread of their own, console password checks).
//! - [`values`]: plain value types that every folder may share (account and realm ids, a
//!   realm's link key, an IP ban, the lockout rule); it imports nothing of ours.
//! - [`tools`], apart from the server's folders: [`tools::client`], a blocking client with its
//!   own SRP6 side, for tests, and the load client; [`tools::world_gate`], the reference world
//!   gateway on the realm link; [`tools::srp_ceiling`], the server's SRP work in a tight loop
//!   (`scripts/bench.sh`).
//!
//! Nothing on the loop thread blocks: sockets are non-blocking, store requests are `try_send`,
//! log lines are handed to a writer thread, and state code reads no clock (it gets `now`).

pub mod account;
pub mod admin;
pub mod config;
pub mod console;
pub mod daemon;
pub mod event_loop;
pub mod integrity;
pub mod io_worker;
pub mod log_throttle;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod operator_text;
pub mod patches;
pub mod pin_grid;
pub mod policy;
pub mod protocol;
pub mod realms;
pub mod session;
pub mod srp6;
pub mod store;
pub mod tools;
pub mod totp;
pub mod values;
