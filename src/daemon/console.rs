//! The daemon's console side: accepting operators on the console listener, reading their
//! lines, logging them in (the check runs on a DB thread), and executing commands against the
//! daemon's own state. Store commands go to the DB threads; the console never blocks the loop.

use std::fmt::Write as _;
use std::time::Duration;

use super::{unix_now, Daemon, Msg};
use crate::admin::{AdminAnswer, AdminOp, Secret};
use crate::console::command::{self, Command, HELP};
use crate::console::line::{echo_off, echo_on, next_line, NextLine};
use crate::console::{ConsoleSession, ConsoleState, MAX_FAILURES};
use crate::event_loop::{ConnToken, Ctx, Target};
use crate::net::connection::{Connection, ReadOutcome};
use crate::session::{CloseReason, StateKind};
use crate::store::worker::{StoreOp, StoreReply};

const CONSOLE_INPUT: usize = 2 * 1024;
const CONSOLE_OUTPUT: usize = 64 * 1024;
/// An idle console is closed after this long.
const CONSOLE_IDLE: Duration = Duration::from_secs(15 * 60);
/// A wrong password waits this long before the next prompt.
const FAILURE_DELAY: Duration = Duration::from_secs(1);
/// `conns` lists at most this many.
const MAX_LISTED: usize = 200;

const USER_PROMPT: &str = "user (empty for the console password): ";
const PROMPT: &str = "gatehouse> ";

impl Daemon {
    pub(super) fn accept_consoles(&mut self, cx: &mut Ctx<'_, Msg>, index: usize) {
        while let Some((socket, peer)) = self.next_accepted(index) {
            if self.consoles.len() >= super::MAX_CONSOLES {
                log::warn!(
                    "{peer}: console closed at accept: {} consoles open",
                    super::MAX_CONSOLES
                );
                continue;
            }
            let now = cx.now();
            let Some(token) = self.consoles.insert_with(|_| {
                Connection::new(
                    socket,
                    ConsoleSession::new(peer),
                    CONSOLE_INPUT,
                    CONSOLE_OUTPUT,
                    now,
                )
            }) else {
                continue;
            };
            let Some(conn) = self.consoles.get_mut(token) else {
                continue;
            };
            if let Err(e) = conn.register(cx.registry(), token.to_mio_console()) {
                log::warn!("console {peer}: cannot register: {e}");
                self.consoles.remove(token);
                continue;
            }
            log::info!("console {peer}: connected");
            self.say(token, &format!("gatehouse console\r\n{USER_PROMPT}"));
            self.arm_console_deadline(cx, token);
            self.flush_console(cx, token);
        }
    }

    fn arm_console_deadline(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        if let Some(conn) = self.consoles.get_mut(token) {
            if let Some(old) = conn.deadline.take() {
                cx.cancel(old);
            }
            conn.deadline = Some(cx.send_after(CONSOLE_IDLE, Msg::ConsoleDeadline(token)));
        }
    }

    /// Queues text for an operator (CRLF line ends, as telnet wants), cut to what fits.
    fn say(&mut self, token: ConnToken, text: &str) {
        let Some(conn) = self.consoles.get_mut(token) else {
            return;
        };
        let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
        let room = conn.output.free();
        let bytes = text.as_bytes();
        let cut = bytes.len().min(room);
        conn.output.push(&bytes[..cut]);
    }

    fn say_raw(&mut self, token: ConnToken, bytes: &[u8]) {
        if let Some(conn) = self.consoles.get_mut(token) {
            conn.output.push(bytes);
        }
    }

    pub(super) fn close_console(&mut self, token: ConnToken, reason: CloseReason) {
        if let Some(conn) = self.consoles.get_mut(token) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
                self.consoles_to_close.push(token);
            }
        }
    }

    pub(super) fn service_console(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        loop {
            let Some(conn) = self.consoles.get_mut(token) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            if !conn.eof && !conn.input.is_full() {
                match conn.fill_input() {
                    Ok(ReadOutcome::Drained | ReadOutcome::RingFull | ReadOutcome::Eof) => {}
                    Err(e) => return self.close_console(token, CloseReason::Io(e.kind())),
                }
            }
            if !conn.session.reads_input() {
                break;
            }
            match next_line(conn.input.contiguous()) {
                NextLine::Line { text, consumed } => {
                    conn.input.consume(consumed);
                    self.arm_console_deadline(cx, token);
                    self.console_line(cx, token, text);
                }
                NextLine::Incomplete => {
                    if conn.eof {
                        return self.close_console(token, CloseReason::PeerClosed);
                    }
                    break;
                }
                NextLine::TooLong => return self.close_console(token, CloseReason::InputOverflow),
            }
        }
        self.flush_console(cx, token);
    }

    fn console_line(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken, line: String) {
        let Some(conn) = self.consoles.get_mut(token) else {
            return;
        };
        match conn.session.state.clone() {
            ConsoleState::AwaitUser { failures } => {
                let user = Some(line.trim().to_string()).filter(|u| !u.is_empty());
                conn.session.state = ConsoleState::AwaitPassword { failures, user };
                self.say_raw(token, echo_off());
                self.say(token, "password: ");
            }
            ConsoleState::AwaitPassword { failures, user } => {
                conn.session.state = ConsoleState::Checking { failures };
                self.say_raw(token, echo_on());
                self.say(token, "\n");
                let op = StoreOp::Admin(AdminOp::Login {
                    user,
                    password: Secret(line),
                });
                self.console_submit(cx, token, op);
            }
            ConsoleState::Ready { who } => self.console_command(cx, token, who, &line),
            ConsoleState::Checking { .. }
            | ConsoleState::Delayed { .. }
            | ConsoleState::Busy { .. } => {}
        }
    }

    fn console_submit(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken, op: StoreOp) {
        if let Some(reply) = self.submit(Target::Console(token), op) {
            self.deliver_console_reply(cx, token, reply);
        }
    }

    fn console_command(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        who: String,
        line: &str,
    ) {
        let command = match command::parse(line) {
            Ok(c) => c,
            Err(message) => {
                let text = if message.is_empty() {
                    PROMPT.to_string()
                } else {
                    format!("{message}\n{PROMPT}")
                };
                return self.say(token, &text);
            }
        };
        let peer = self
            .consoles
            .get(token)
            .map(|c| c.session.peer.to_string())
            .unwrap_or_default();
        if command.changes_something() {
            log::info!("console {who}@{peer}: {}", command.describe());
        }
        let now = unix_now();
        let until = |d: Option<Duration>| d.map(|d| now + d.as_secs() as i64);
        let store_op = match command {
            Command::Help => return self.say(token, &format!("{HELP}{PROMPT}")),
            Command::Stats => {
                let text = self.stats_text(cx);
                return self.say(token, &format!("{text}{PROMPT}"));
            }
            Command::Conns => {
                let text = self.conns_text(cx);
                return self.say(token, &format!("{text}{PROMPT}"));
            }
            Command::Realms => {
                let text = self.realms_text();
                return self.say(token, &format!("{text}{PROMPT}"));
            }
            Command::Kick(target) => {
                let n = self.kick(&target);
                return self.say(token, &format!("kicked {n} connection(s)\n{PROMPT}"));
            }
            Command::LogLevel(level) => {
                crate::logging::set_level(level);
                return self.say(token, &format!("log level is now {level}\n{PROMPT}"));
            }
            Command::Reload => {
                let text = if self.can_reload() {
                    self.reload();
                    "reloading the config file (the log says how it went)"
                } else {
                    "no --config file to reload"
                };
                return self.say(token, &format!("{text}\n{PROMPT}"));
            }
            Command::Shutdown => {
                self.say(token, "shutting down\n");
                self.flush_console(cx, token);
                self.begin_drain(cx);
                return;
            }
            Command::Quit => {
                self.say(token, "bye\n");
                return self.close_console(token, CloseReason::PeerClosed);
            }
            Command::AccountCreate { name, password } => AdminOp::CreateAccount {
                name,
                password: Secret(password),
            },
            Command::AccountPasswd { name, password } => AdminOp::SetPassword {
                name,
                password: Secret(password),
            },
            Command::AccountBan { name, duration } => AdminOp::BanAccount {
                name,
                until: until(duration),
                reason: format!("console: {who}"),
            },
            Command::AccountUnban { name } => AdminOp::UnbanAccount { name },
            Command::AccountInfo { name } => AdminOp::AccountInfo { name },
            Command::BanIp { net, duration } => AdminOp::BanIp {
                net,
                until: until(duration),
                reason: format!("console: {who}"),
            },
            Command::UnbanIp { net } => AdminOp::UnbanIp { net },
        };
        if let Some(conn) = self.consoles.get_mut(token) {
            conn.session.state = ConsoleState::Busy { who };
        }
        self.console_submit(cx, token, StoreOp::Admin(store_op));
    }

    pub(super) fn deliver_console_reply(
        &mut self,
        cx: &mut Ctx<'_, Msg>,
        token: ConnToken,
        reply: StoreReply,
    ) {
        let Some(conn) = self.consoles.get_mut(token) else {
            return;
        };
        let peer = conn.session.peer;
        let answer = match reply {
            StoreReply::Admin(answer) => answer,
            other => {
                if let Some(e) = other.error() {
                    log::error!("console {peer}: store: {e}");
                }
                return;
            }
        };
        match (conn.session.state.clone(), answer) {
            (ConsoleState::Checking { .. }, Ok(AdminAnswer::Login(Some(who)))) => {
                log::info!("console {peer}: {who} logged in");
                conn.session.state = ConsoleState::Ready { who: who.clone() };
                self.say(token, &format!("logged in as {who}; type help\n{PROMPT}"));
            }
            (ConsoleState::Checking { failures }, result) => {
                if let Err(e) = result {
                    log::error!("console {peer}: login check failed: {e}");
                }
                let failures = failures + 1;
                log::warn!("console {peer}: failed login ({failures} of {MAX_FAILURES})");
                if failures >= MAX_FAILURES {
                    self.say(token, "login failed; goodbye\n");
                    return self.close_console(token, CloseReason::LoginFailed);
                }
                conn.session.state = ConsoleState::Delayed { failures };
                cx.send_after(FAILURE_DELAY, Msg::ConsoleRetry(token));
            }
            (ConsoleState::Busy { who }, answer) => {
                conn.session.state = ConsoleState::Ready { who };
                let text = match answer {
                    Ok(AdminAnswer::Text(t)) => t,
                    Ok(AdminAnswer::IpBansChanged { text, bans }) => {
                        self.policies
                            .observe(&crate::policy::Observation::IpBans(&bans));
                        text
                    }
                    Ok(AdminAnswer::Login(_)) => String::new(),
                    Err(e) => format!("error: {e}"),
                };
                self.say(token, &format!("{text}\n{PROMPT}"));
            }
            _ => {}
        }
        self.service_console(cx, token);
    }

    /// After a wrong password's delay: ask again.
    pub(super) fn console_retry(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        let Some(conn) = self.consoles.get_mut(token) else {
            return;
        };
        if let ConsoleState::Delayed { failures } = conn.session.state {
            conn.session.state = ConsoleState::AwaitUser { failures };
            self.say(token, &format!("login failed\n{USER_PROMPT}"));
            self.service_console(cx, token);
        }
    }

    pub(super) fn flush_console(&mut self, cx: &mut Ctx<'_, Msg>, token: ConnToken) {
        let Some(conn) = self.consoles.get_mut(token) else {
            return;
        };
        if let Err(e) =
            conn.flush_and_watch(cx.registry(), token.to_mio_console(), super::WRITE_BUDGET)
        {
            self.close_console(token, CloseReason::Io(e.kind()));
        }
    }

    pub(super) fn reap_consoles(&mut self, cx: &mut Ctx<'_, Msg>) {
        for token in std::mem::take(&mut self.consoles_to_close) {
            let Some(mut conn) = self.consoles.remove(token) else {
                continue;
            };
            if let Some(id) = conn.deadline.take() {
                cx.cancel(id);
            }
            let reason = conn.retire(cx.registry(), super::WRITE_BUDGET);
            log::info!("console {}: closed: {reason}", conn.session.peer);
        }
    }

    /// Closes client connections by peer (`ip:port` or `ip`) or account name.
    fn kick(&mut self, target: &str) -> usize {
        let matches: Vec<ConnToken> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                let data = &c.session.data;
                data.peer.to_string() == target
                    || data.peer.ip().to_string() == target
                    || data
                        .name
                        .is_some_and(|n| n.as_str().eq_ignore_ascii_case(target))
            })
            .map(|(t, _)| t)
            .collect();
        for token in &matches {
            self.close(*token, CloseReason::Kicked);
        }
        matches.len()
    }

    fn stats_text(&self, cx: &Ctx<'_, Msg>) -> String {
        let mut t = String::new();
        let c = &self.counters;
        let uptime = cx.now().saturating_duration_since(self.started);
        let _ = writeln!(
            t,
            "uptime          {}",
            humantime::format_duration(Duration::from_secs(uptime.as_secs()))
        );
        let mut by_state = [0usize; 4];
        for (_, conn) in self.conns.iter() {
            let i = match conn.session.state.as_ref().map(|s| s.kind()) {
                Some(StateKind::Logon) => 0,
                Some(StateKind::Update) => 1,
                Some(StateKind::WorldSelect) => 2,
                _ => 3,
            };
            by_state[i] += 1;
        }
        let _ = writeln!(
            t,
            "connections     {} (logon {}, update {}, realm list {}, closing {}); {} links, {} consoles",
            self.conns.len(),
            by_state[0],
            by_state[1],
            by_state[2],
            by_state[3],
            self.links.len(),
            self.consoles.len()
        );
        let _ = writeln!(
            t,
            "accepted        {}; {} protocol errors, {} deadlines",
            c.accepted, c.protocol_errors, c.deadlines
        );
        let refused: Vec<String> = self
            .policies
            .refused()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{} {n}", r.as_str()))
            .collect();
        let _ = writeln!(
            t,
            "refused         {}",
            if refused.is_empty() {
                "none".to_owned()
            } else {
                refused.join(", ")
            }
        );
        let tracked: Vec<String> = self
            .policies
            .tracked()
            .into_iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(t, "policies        {}", tracked.join(", "));
        let _ = writeln!(t, "logons          since start / last minute");
        for (outcome, total, minute) in c.outcomes.table(unix_now()) {
            let _ = writeln!(t, "  {:<18} {total:>8} / {minute}", outcome.as_str());
        }
        let stats = cx.loop_stats();
        let _ = writeln!(
            t,
            "loop            {} passes; pass time p50 < {:?}, p99 < {:?}, max bucket < {:?}; inbox depth {}",
            stats.passes,
            stats.percentile(50.0),
            stats.percentile(99.0),
            stats.percentile(100.0),
            cx.inbox_depth()
        );
        if let Some(store) = &self.store {
            let s = store.stats();
            let _ = writeln!(
                t,
                "store           queue {}; {} done ({} failed, {} refused busy); latency mean {:?}, max {:?}",
                store.queue_depth(),
                s.completed,
                s.failed,
                s.rejected_busy,
                s.mean_latency,
                s.max_latency
            );
        }
        let (online, players) = self.registry.online_summary();
        let _ = writeln!(
            t,
            "realms          {} listed, {online} linked online ({players} players)",
            self.realms.realms().len()
        );
        t
    }

    fn conns_text(&self, cx: &Ctx<'_, Msg>) -> String {
        let mut t = format!("{:<22} {:<12} {:<16} age\n", "peer", "state", "account");
        for (_, conn) in self.conns.iter().take(MAX_LISTED) {
            let data = &conn.session.data;
            let state = conn
                .session
                .state
                .as_ref()
                .map_or("-".to_string(), |s| s.kind().to_string());
            let _ = writeln!(
                t,
                "{:<22} {:<12} {:<16} {}s",
                data.peer.to_string(),
                state,
                data.name.map_or("-".to_string(), |n| n.to_string()),
                cx.now().saturating_duration_since(conn.opened).as_secs()
            );
        }
        if self.conns.len() > MAX_LISTED {
            let _ = writeln!(t, "... and {} more", self.conns.len() - MAX_LISTED);
        }
        t
    }

    fn realms_text(&self) -> String {
        let mut t = String::new();
        for r in self.realms.realms() {
            let state = match self.registry.liveness(r.id) {
                Some(crate::realms::registry::Liveness::Online) => "linked, online",
                Some(crate::realms::registry::Liveness::Offline) => "linked, OFFLINE",
                None => "static",
            };
            let _ = writeln!(t, "{:>3} {:<24} {:<22} {state}", r.id.0, r.name, r.address);
        }
        if t.is_empty() {
            t.push_str("no realms\n");
        }
        t
    }
}
