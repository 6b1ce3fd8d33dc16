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

use super::error::DaemonError;
use super::message::{Msg, Tick};
use super::services::Services;
use crate::config::{Config, ConfigError, ConfigSource};
use crate::event_loop::{due_after, Ctx, EventLoop};
use crate::io_worker::IoRequest;
use crate::session::SessionSettings;

/// The signal source's token: a fixed token far below the listeners'.
pub const SIGNALS: Token = Token(usize::MAX - 0x1_0000);

/// What a Unix signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Drain,
    Reload,
}

/// How often STATUS= is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// What the service side of the daemon holds.
#[derive(Default)]
pub struct Service {
    signals: Option<Signals>,
    source: Option<ConfigSource>,
    notify: Notify,
    /// Set once SIGTERM/SIGINT arrived: when the drain ends at the latest.
    pub draining: Option<Instant>,
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

impl Service {
    /// Takes SIGTERM, SIGINT and SIGHUP on the loop and speaks to systemd if it listens.
    pub fn serve(
        &mut self,
        event_loop: &EventLoop<Msg>,
        source: ConfigSource,
    ) -> Result<(), DaemonError> {
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        event_loop
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        self.source = Some(source);
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            self.notify = Notify::On {
                watchdog: sd_notify::watchdog_enabled(),
            };
        }
        Ok(())
    }

    /// At the start of `run`: every listener is bound and the store has answered.
    pub fn started(&mut self, event_loop: &mut EventLoop<Msg>, svc: &Services, clients: usize) {
        let Notify::On { watchdog } = self.notify else {
            return;
        };
        let status = self.status_line(Instant::now(), svc, clients);
        notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
        let now = Instant::now();
        if let Some(interval) = watchdog {
            // Sent from the loop itself: a stuck loop stops feeding the watchdog.
            event_loop.send_at(due_after(now, interval / 2), Msg::Tick(Tick::Watchdog));
        }
        event_loop.send_at(due_after(now, STATUS_EVERY), Msg::Tick(Tick::Status));
    }

    pub fn on_watchdog(&mut self, cx: &mut Ctx<'_, Msg>) {
        if let Notify::On {
            watchdog: Some(interval),
        } = self.notify
        {
            notify(&[NotifyState::Watchdog]);
            cx.send_after(interval / 2, Msg::Tick(Tick::Watchdog));
        }
    }

    pub fn on_status(&mut self, cx: &mut Ctx<'_, Msg>, svc: &Services, clients: usize) {
        let status = self.status_line(cx.now(), svc, clients);
        notify(&[NotifyState::Status(&status)]);
        cx.send_after(STATUS_EVERY, Msg::Tick(Tick::Status));
    }

    /// "N connections, M logons/min, R realms online".
    fn status_line(&mut self, now: Instant, svc: &Services, clients: usize) -> String {
        let total = svc.counters.logons_ok;
        self.samples.push_back((now, total));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(60))
        {
            self.samples.pop_front();
        }
        let minute_ago = self.samples.front().map_or(total, |(_, n)| *n);
        let (linked_online, _) = svc.registry.online_summary();
        format!(
            "{clients} connections, {} logons/min, {} realms ({linked_online} linked online)",
            total - minute_ago,
            svc.realms.realms().len(),
        )
    }

    /// What the signals received since the last call ask for.
    pub fn pending(&mut self) -> Vec<Request> {
        let Some(signals) = self.signals.as_mut() else {
            return Vec::new();
        };
        signals
            .pending()
            .filter_map(|signal| match signal {
                SIGTERM | SIGINT => Some(Request::Drain),
                SIGHUP => Some(Request::Reload),
                _ => None,
            })
            .collect()
    }

    /// Whether there is a config file to reload.
    pub fn can_reload(&self) -> bool {
        self.source.as_ref().is_some_and(|s| s.path.is_some())
    }

    /// Asks the I/O thread to read the config file again.
    pub fn reload(&mut self, svc: &Services) {
        let Some(source) = &self.source else {
            return;
        };
        let Some(path) = source.path.clone() else {
            log::warn!("reload: no --config file to read; nothing to do");
            return;
        };
        if let Notify::On { .. } = self.notify {
            notify(&[NotifyState::Reloading]);
        }
        log::info!("reload: reading {}", path.display());
        if let Err(e) = svc.submit_io(IoRequest::LoadConfig { path }) {
            log::error!("reload: {e}");
        }
    }

    /// The config file was read: apply it, or keep the old one.
    pub fn on_config_loaded(
        &mut self,
        svc: &mut Services,
        loaded: Result<Box<Config>, ConfigError>,
        unix_now: i64,
        clients: usize,
    ) {
        if let Notify::On { .. } = self.notify {
            let status = self.status_line(Instant::now(), svc, clients);
            notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
        }
        let mut new = match loaded {
            Ok(c) => *c,
            Err(e) => {
                log::error!("reload rejected, the running configuration stays: {e}");
                return;
            }
        };
        if let Some(source) = &self.source {
            source.apply_flags(&mut new);
        }
        let old = &svc.config;
        for (what, changed) in [
            ("server.listen", new.server.listen != old.server.listen),
            ("link.listen", new.link.listen != old.link.listen),
            ("metrics", new.metrics != old.metrics),
            ("store", new.store != old.store),
        ] {
            if changed {
                log::warn!("reload: {what} changed; it takes effect after a restart");
            }
        }
        // What needs new sockets or a new database keeps its running value.
        new.server.listen = old.server.listen.clone();
        new.link.listen = old.link.listen.clone();
        new.metrics = old.metrics.clone();
        new.store = old.store.clone();

        crate::logging::set_level(new.log.level.0);
        svc.settings = SessionSettings::from_config(&new);
        svc.policies.reconfigure(&new);
        svc.registry
            .set_heartbeat_timeout(Duration::from_secs(new.link.heartbeat_timeout_secs));
        if let Err(e) = svc.submit_io(IoRequest::Index {
            dir: new.patches.dir.clone(),
        }) {
            log::error!("reload: cannot re-index patches: {e}");
        }
        svc.config = new;
        // Static realms (and IP bans) are re-read now rather than at the next refresh.
        svc.refresh(unix_now);
        log::info!("configuration reloaded");
    }

    /// The drain begins: systemd hears we are stopping. Returns when it ends at the latest,
    /// or `None` if it had begun already.
    pub fn begin_drain(&mut self, now: Instant, drain: Duration) -> Option<Instant> {
        if self.draining.is_some() {
            return None;
        }
        if let Notify::On { .. } = self.notify {
            notify(&[NotifyState::Stopping]);
        }
        let until = due_after(now, drain);
        self.draining = Some(until);
        Some(until)
    }
}
