//! Running as a service: Unix signals on the loop (SIGTERM/SIGINT drain and stop, SIGHUP
//! reloads the config), and the systemd notify protocol (READY, STATUS, WATCHDOG from the loop
//! thread so a stuck loop is restarted, STOPPING).
//!
//! The config file is read on the I/O thread, never on the loop; a config that does not parse
//! is logged and the running one stays. Settings that need new sockets or a new database
//! (listen addresses, the store) are reported as needing a restart.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use sd_notify::NotifyState;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::{CloseReason, Daemon, DaemonError, Msg};
use crate::config::{Config, ConfigError, ConfigSource};
use crate::event_loop::{Ctx, EventLoop};
use crate::io_worker::IoRequest;
use crate::session::StateKind;
use crate::store::worker::StoreOp;

/// The signal source's token: far from connection, link and listener tokens.
pub const SIGNALS: Token = Token(usize::MAX - 0x1_0000);

/// How often STATUS= is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// What the service side of the daemon holds.
#[derive(Default)]
pub struct Service {
    signals: Option<Signals>,
    source: Option<ConfigSource>,
    notify: Notify,
    /// Set once SIGTERM/SIGINT arrived: when the drain ends at the latest.
    pub(super) draining: Option<Instant>,
    /// Successful logons counted at each status tick, for "logons per minute".
    samples: VecDeque<(Instant, u64)>,
}

/// Whether systemd listens (NOTIFY_SOCKET), and its watchdog interval.
#[derive(Default, Clone, Copy)]
enum Notify {
    #[default]
    Off,
    On {
        watchdog: Option<Duration>,
    },
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        log::warn!("systemd notify failed: {e}");
    }
}

impl Daemon {
    /// Takes SIGTERM, SIGINT and SIGHUP on the loop and speaks to systemd if it listens.
    /// Call once, before `run`.
    pub fn serve_as_service(
        &mut self,
        event_loop: &EventLoop<Msg>,
        source: ConfigSource,
    ) -> Result<(), DaemonError> {
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        event_loop
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.service.signals = Some(signals);
        self.service.source = Some(source);
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            self.service.notify = Notify::On {
                watchdog: sd_notify::watchdog_enabled(),
            };
        }
        Ok(())
    }

    /// At the start of `run`: every listener is bound and the store has answered.
    pub(super) fn service_started(&mut self, event_loop: &mut EventLoop<Msg>) {
        let Notify::On { watchdog } = self.service.notify else {
            return;
        };
        let status = self.status_line(Instant::now());
        notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
        let now = Instant::now();
        if let Some(interval) = watchdog {
            // Sent from the loop itself: a stuck loop stops feeding the watchdog.
            event_loop.send_at(now + interval / 2, Msg::Watchdog);
        }
        event_loop.send_at(now + STATUS_EVERY, Msg::Status);
    }

    pub(super) fn on_watchdog(&mut self, cx: &mut Ctx<'_, Msg>) {
        if let Notify::On {
            watchdog: Some(interval),
        } = self.service.notify
        {
            notify(&[NotifyState::Watchdog]);
            cx.send_after(interval / 2, Msg::Watchdog);
        }
    }

    pub(super) fn on_status(&mut self, cx: &mut Ctx<'_, Msg>) {
        let status = self.status_line(cx.now());
        notify(&[NotifyState::Status(&status)]);
        cx.send_after(STATUS_EVERY, Msg::Status);
    }

    /// "N connections, M logons/min, R realms online".
    fn status_line(&mut self, now: Instant) -> String {
        let total = self.counters.logons_ok;
        self.service.samples.push_back((now, total));
        while self
            .service
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
        {
            self.service.samples.pop_front();
        }
        let minute_ago = self.service.samples.front().map_or(total, |(_, n)| *n);
        let (linked_online, _) = self.registry.online_summary();
        format!(
            "{} connections, {} logons/min, {} realms ({} linked online)",
            self.conns.len(),
            total - minute_ago,
            self.realms.realms().len(),
            linked_online
        )
    }

    pub(super) fn on_signals(&mut self, cx: &mut Ctx<'_, Msg>) {
        let mut received = Vec::new();
        if let Some(signals) = self.service.signals.as_mut() {
            received.extend(signals.pending());
        }
        for signal in received {
            match signal {
                SIGTERM | SIGINT => self.begin_drain(cx),
                SIGHUP => self.reload(),
                _ => {}
            }
        }
    }

    /// Whether there is a config file to reload.
    pub(super) fn can_reload(&self) -> bool {
        self.service
            .source
            .as_ref()
            .is_some_and(|s| s.path.is_some())
    }

    /// Asks the I/O thread to read the config file again.
    pub fn reload(&mut self) {
        let Some(source) = &self.service.source else {
            return;
        };
        let Some(path) = source.path.clone() else {
            log::warn!("reload: no --config file to read; nothing to do");
            return;
        };
        if let Notify::On { .. } = self.service.notify {
            notify(&[NotifyState::Reloading]);
        }
        log::info!("reload: reading {}", path.display());
        if let Some(io) = &self.io {
            if let Err(e) = io.submit(IoRequest::LoadConfig { path }) {
                log::error!("reload: {e}");
            }
        }
    }

    /// The config file was read: apply it, or keep the old one.
    pub(super) fn on_config_loaded(&mut self, loaded: Result<Box<Config>, ConfigError>) {
        if let Notify::On { .. } = self.service.notify {
            let status = self.status_line(Instant::now());
            notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
        }
        let mut new = match loaded {
            Ok(c) => *c,
            Err(e) => {
                log::error!("reload rejected, the running configuration stays: {e}");
                return;
            }
        };
        if let Some(source) = &self.service.source {
            source.apply_flags(&mut new);
        }
        let old = &self.config;
        for (what, changed) in [
            ("server.listen", new.server.listen != old.server.listen),
            ("link.listen", new.link.listen != old.link.listen),
            ("store", new.store != old.store),
        ] {
            if changed {
                log::warn!("reload: {what} changed; it takes effect after a restart");
            }
        }
        // What needs new sockets or a new database keeps its running value.
        new.server.listen = old.server.listen.clone();
        new.link.listen = old.link.listen.clone();
        new.store = old.store.clone();

        crate::logging::set_level(new.log.level.0);
        self.settings.accepted_builds = new.accepted_builds();
        self.settings.timeouts = new.timeouts.clone();
        self.settings.ticket_ttl = Duration::from_secs(new.sessions.ticket_ttl_secs);
        self.settings.totp_key = new.totp.key.clone();
        self.registry
            .set_heartbeat_timeout(Duration::from_secs(new.link.heartbeat_timeout_secs));
        if let Some(io) = &self.io {
            if let Err(e) = io.submit(IoRequest::Index {
                dir: new.patches.dir.clone(),
            }) {
                log::error!("reload: cannot re-index patches: {e}");
            }
        }
        self.config = new;
        // Static realms are re-read now rather than at the next refresh.
        if let Some(reply) = self.submit(crate::event_loop::Target::Daemon, StoreOp::LoadRealms) {
            if let Some(e) = reply.error() {
                log::warn!("reload: cannot re-read realms: {e}");
            }
        }
        log::info!("configuration reloaded");
    }

    /// SIGTERM/SIGINT: stop accepting, let logons in flight finish (bounded by
    /// `timeouts.drain_secs`), then stop; `run` then lets the store finish every queued write.
    pub(super) fn begin_drain(&mut self, cx: &mut Ctx<'_, Msg>) {
        if self.service.draining.is_some() {
            return;
        }
        log::info!(
            "shutting down: draining logons in flight for at most {} s",
            self.config.timeouts.drain_secs
        );
        if let Notify::On { .. } = self.service.notify {
            notify(&[NotifyState::Stopping]);
        }
        for listener in &mut self.listeners {
            let _ = cx.registry().deregister(&mut listener.socket);
        }
        self.service.draining = Some(cx.now() + self.config.timeouts.drain());
        self.drain_step(cx);
    }

    /// Closes what is done, and stops once nothing is in flight (or the drain time is up).
    pub(super) fn drain_step(&mut self, cx: &mut Ctx<'_, Msg>) {
        let Some(until) = self.service.draining else {
            return;
        };
        let out_of_time = cx.now() >= until;
        let mut in_flight = 0;
        let mut done = Vec::new();
        for (token, conn) in self.conns.iter() {
            let logging_on =
                conn.session.state.as_ref().map(|s| s.kind()) == Some(StateKind::Logon);
            if logging_on && !out_of_time && conn.closing.is_none() {
                in_flight += 1;
            } else if conn.closing.is_none() && (conn.output.is_empty() || out_of_time) {
                done.push(token);
            }
        }
        for token in done {
            self.close(token, CloseReason::Shutdown);
        }
        let pending_output = self.conns.iter().any(|(_, c)| !c.output.is_empty());
        if in_flight == 0 && (!pending_output || out_of_time) {
            log::info!("drained");
            cx.stop();
        } else {
            cx.send_after(Duration::from_millis(20), Msg::DrainStep);
        }
    }
}
