//! Consoles as a kind of connection: operators on the console listener. Lines are cut from
//! the input ring (`console::line`), logged in by the rules of `console::login` (address
//! lockout on the loop, account or console password loaded on a DB thread, bans and
//! suspensions, password hashed on the hashing thread, authenticator code, outcome audited
//! and counted on a DB thread), and parsed into commands (`console::command`). Commands on
//! the store go to the DB threads like every other store request; commands that look at the
//! other connections (stats, conns, kick, …) go to the router as a [`Call`], and the texts it
//! answers with are built here.
//!
//! Until an operator has logged in, a console has small rings, a short deadline, and counts
//! against its address's cap (and half the table at most), so idle connections cannot lock
//! the operator out.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{DbJob, DbReply, Target, Timer};
use super::services::Services;
use super::stats_view::{game_states, StatsView};
use super::table::{Buffers, Call, ConnIo, ConnTable, Kind, Refusal, Shape, Stopped, Turn};
use crate::admin::{AdminAnswer, AdminOp, ConsolePasswordHash, Secret};
use crate::console::command::{self, Command, HELP};
use crate::console::line::{echo_off, echo_on, next_line, NextLine};
use crate::console::login::{
    self, CodeCheck, CredentialCheck, LoginAccount, LoginUser, PasswordVerdict, Subject,
};
use crate::console::{ConsoleSession, ConsoleState, MAX_FAILURES};
use crate::event_loop::{ConnToken, TableId};
use crate::net::connection::Standing;
use crate::net::ring::Ring;
use crate::net::CloseReason;
use crate::policy::{ConsoleLoginEvent, Observation, Verdict};
use crate::protocol::client_tags::ClientTags;
use crate::protocol::version::Build;
use crate::realms::registry::Liveness;
use crate::session::ClientSession;
use crate::store::worker::{StoreOp, StoreReply};
use crate::store::{AccountRecord, FailureRecorded, LoginAttempt, LoginOutcome, StoreError};
use crate::totp::TotpStep;

/// Console sessions held at once.
pub(crate) const MAX_CONSOLES: usize = 16;
/// Consoles not logged in yet, per address and in all (the rest stay for operators).
const UNPROVEN_PER_ADDRESS: usize = 4;
const UNPROVEN_MAX: usize = MAX_CONSOLES / 2;
/// A console must log in within this long.
const LOGIN_DEADLINE: Duration = Duration::from_secs(60);
/// A logged-in console that stays idle is closed after this long.
const IDLE: Duration = Duration::from_secs(15 * 60);
/// A wrong password waits this long before the next prompt.
const FAILURE_DELAY: Duration = Duration::from_secs(1);
const CONSOLE_INPUT: usize = 2 * 1024;
const CONSOLE_OUTPUT: usize = 64 * 1024;
const UNPROVEN_INPUT: usize = 1024;
const UNPROVEN_OUTPUT: usize = 1024;
/// `conns` lists at most this many.
const MAX_LISTED: usize = 200;

const USER_PROMPT: &str = "user (empty for the console password): ";
const CODE_PROMPT: &str = "authenticator code: ";
pub(super) const PROMPT: &str = "gatehouse> ";

/// Text for an operator: CRLF line ends, as telnet wants.
pub(super) fn telnet_text(text: &str) -> Vec<u8> {
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// Queues text for an operator, cut to what fits.
fn say(out: &mut Ring, text: &str) {
    let bytes = telnet_text(text);
    let room = out.free();
    out.push(bytes.get(..room).unwrap_or(&bytes));
}

/// A command refused before it reaches the store: the reason, and the prompt again.
fn refuse(io: &mut ConnIo<'_>, error: &crate::admin::AdminError) -> Turn {
    say(io.output, &format!("error: {error}\n{PROMPT}"));
    Turn::default()
}

impl ConsoleSession {
    fn line(&mut self, io: &mut ConnIo<'_>, svc: &mut Services, line: String) -> Turn {
        let state = std::mem::replace(&mut self.state, ConsoleState::AwaitUser { failures: 0 });
        match state {
            ConsoleState::AwaitUser { failures } => {
                self.state = ConsoleState::AwaitPassword {
                    failures,
                    user: LoginUser::parse(&line),
                };
                io.output.push(echo_off());
                say(io.output, "password: ");
                Turn::default()
            }
            ConsoleState::AwaitPassword { failures, user } => {
                io.output.push(echo_on());
                say(io.output, "\n");
                self.begin_login(io, svc, failures, user, Secret(line))
            }
            ConsoleState::AwaitCode {
                failures,
                account,
                password,
            } => self.on_code(io, svc, failures, *account, password, &line),
            ConsoleState::Ready { who } => {
                self.state = ConsoleState::Ready { who: who.clone() };
                self.command(io, who, &line)
            }
            held @ (ConsoleState::Loading { .. }
            | ConsoleState::Checking { .. }
            | ConsoleState::Recording { .. }
            | ConsoleState::Delayed { .. }
            | ConsoleState::Busy { .. }) => {
                self.state = held;
                Turn::default()
            }
        }
    }

    /// The password is typed: the address lockout first, then a DB thread loads what it is
    /// checked against. Nothing is hashed for an address in lockout.
    fn begin_login(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        user: LoginUser,
        password: Secret,
    ) -> Turn {
        let peer = self.peer;
        let ip = peer.ip();
        let event = ConsoleLoginEvent {
            ip,
            class: svc.policies.classify(ip),
            now: io.now,
        };
        if let Verdict::Refuse(reason) = svc.policies.on_console_login(&event) {
            svc.warn(
                io.now,
                "console login refused by policy",
                format_args!("console {peer}: login refused: {reason}"),
            );
            return self.failed(io, svc, failures);
        }
        let job = match user {
            LoginUser::Account(name) => DbJob::Login(StoreOp::LoadAccount {
                name,
                peer: self.peer.ip(),
                now: io.unix_now,
            }),
            LoginUser::ConsolePassword => DbJob::Admin(AdminOp::LoadConsolePassword),
            LoginUser::NotAName => {
                svc.info(
                    io.now,
                    "console login: unknown account",
                    format_args!("console {peer}: login refused: not an account name"),
                );
                return self.failed(io, svc, failures);
            }
        };
        self.state = ConsoleState::Loading {
            failures,
            user,
            password,
        };
        Turn {
            ask: Some(job),
            ..Turn::default()
        }
    }

    /// The DB thread loaded the account: refuse a banned or suspended one at once, as a game
    /// logon would, or have its password checked on the hashing thread.
    fn on_account_loaded(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        password: Secret,
        loaded: Result<Option<AccountRecord>, StoreError>,
    ) -> Turn {
        let peer = self.peer;
        let record = match loaded {
            Ok(Some(record)) => record,
            Ok(None) => {
                // Counted nowhere and not audited, as for a game logon: anyone can type a name.
                svc.info(
                    io.now,
                    "console login: unknown account",
                    format_args!("console {peer}: login refused: unknown account"),
                );
                return self.failed(io, svc, failures);
            }
            Err(e) => {
                svc.error(
                    io.now,
                    "console login check failed",
                    format_args!("console {peer}: login check failed: {e}"),
                );
                return self.failed(io, svc, failures);
            }
        };
        let account = LoginAccount::of(&record);
        if let Some(outcome) = login::standing_refusal(record.standing, record.lockout, io.unix_now)
        {
            return self.record(io, svc, failures, Some(&account), outcome);
        }
        let check = CredentialCheck::for_account(&record, password);
        self.check(
            io,
            svc,
            failures,
            Subject::Account(Box::new(account)),
            check,
        )
    }

    /// The DB thread loaded the console password's hash. None set: every password is wrong.
    fn on_console_password_loaded(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        password: Secret,
        hash: Option<ConsolePasswordHash>,
    ) -> Turn {
        match hash {
            Some(hash) => self.check(
                io,
                svc,
                failures,
                Subject::ConsolePassword,
                CredentialCheck::ConsolePassword { hash, password },
            ),
            None => {
                log::warn!(
                    "console {}: no console password is set (gatehouse console set-password)",
                    self.peer
                );
                self.record(io, svc, failures, None, LoginOutcome::ConsoleWrongPassword)
            }
        }
    }

    /// Sends the password to the hashing thread; its verdict comes back as an event.
    fn check(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        subject: Subject,
        check: CredentialCheck,
    ) -> Turn {
        if let Err(e) = svc.submit_check(Target::Console(io.token), check) {
            // Not judged, so not counted: the password was never looked at.
            svc.error(
                io.now,
                "console login check failed",
                format_args!("console {}: login check failed: {e}", self.peer),
            );
            return self.failed(io, svc, failures);
        }
        self.state = ConsoleState::Checking { failures, subject };
        Turn::default()
    }

    /// The authenticator code of an account that has one (asked whatever the password was).
    fn on_code(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        account: LoginAccount,
        password: PasswordVerdict,
        code: &str,
    ) -> Turn {
        let code = match (password, &account.totp) {
            (PasswordVerdict::Right, Some(sealed)) => login::check_code(
                svc.settings.totp_key.as_ref(),
                account.id,
                sealed,
                code,
                io.unix_now,
            ),
            _ => CodeCheck::NotNeeded,
        };
        if let CodeCheck::Unusable(why) = &code {
            log::error!(
                "console {}: account {}: the authenticator secret cannot be used: {why}",
                self.peer,
                account.name
            );
        }
        let outcome = login::decide(password, &code, account.security_level);
        let step = match code {
            CodeCheck::Right(step) if outcome == LoginOutcome::ConsoleSuccess => Some(step),
            _ => None,
        };
        self.record_with_step(io, svc, failures, Some(&account), outcome, step)
    }

    /// Commits how the login ended (audit row; a wrong credential also counts towards the
    /// account lockout, and here towards the address lockout) before the operator hears it.
    /// A success goes the same way (`record_login_failure` with a success outcome, as a patch
    /// offer does): a console login must not replace the account's game session ticket.
    fn record(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        account: Option<&LoginAccount>,
        outcome: LoginOutcome,
    ) -> Turn {
        self.record_with_step(io, svc, failures, account, outcome, None)
    }

    /// [`Self::record`], using up the authenticator step of a successful code with it.
    fn record_with_step(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        account: Option<&LoginAccount>,
        outcome: LoginOutcome,
        totp_step: Option<TotpStep>,
    ) -> Turn {
        let peer = self.peer;
        let (who, name) = match account {
            Some(account) => (account.name.to_string(), Some(account.name)),
            None => (login::CONSOLE_WHO.to_string(), login::console_audit_name()),
        };
        svc.counters.outcomes.record(outcome, Build(0), io.unix_now);
        if outcome.counts_against_account() {
            let ip = peer.ip();
            svc.policies.observe(&Observation::WrongCredentials {
                ip,
                class: svc.policies.classify(ip),
                now: io.now,
            });
        }
        if outcome != LoginOutcome::ConsoleSuccess {
            log::info!(
                "console {peer}: login as {who} refused: {} ({outcome})",
                login::refusal_reason(outcome)
            );
        }
        let Some(name) = name else {
            return self.failed(io, svc, failures);
        };
        let attempt = LoginAttempt {
            account: account.map(|a| a.id),
            name,
            peer: peer.ip(),
            build: Build(0),
            client: ClientTags::default(),
            outcome,
            at: io.unix_now,
        };
        self.state = ConsoleState::Recording {
            failures,
            outcome,
            who,
        };
        Turn {
            ask: Some(DbJob::Login(StoreOp::RecordConsoleLogin {
                attempt,
                lockout: svc.settings.lockout,
                totp_step,
            })),
            ..Turn::default()
        }
    }

    /// The outcome is committed: log in, or fail. A success that could not be committed is
    /// refused, so the lockout and the audit never fall out of play unnoticed.
    fn on_recorded(
        &mut self,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
        failures: u8,
        outcome: LoginOutcome,
        who: String,
        stored: Result<FailureRecorded, StoreError>,
    ) -> Turn {
        let peer = self.peer;
        match stored {
            Ok(_) if outcome == LoginOutcome::ConsoleSuccess => {
                log::info!("console {peer}: {who} logged in");
                say(
                    io.output,
                    &format!("logged in as {who}; type help\n{PROMPT}"),
                );
                self.state = ConsoleState::Ready { who };
                return Turn {
                    standing: Some(Standing::Proven),
                    deadline: Some(IDLE),
                    ..Turn::default()
                };
            }
            Ok(FailureRecorded::Locked { until, scope }) => log::warn!(
                "console {peer}: account {who} locked for {} until unix {until} after {} \
                 wrong passwords",
                scope.as_str(),
                svc.settings.lockout.attempts
            ),
            Ok(_) => {}
            // The code's step was used before: recorded (and counted) as a wrong code.
            Err(StoreError::TokenReused) => {
                log::info!("console {peer}: login as {who} refused: the code was used before");
                let ip = peer.ip();
                svc.policies.observe(&Observation::WrongCredentials {
                    ip,
                    class: svc.policies.classify(ip),
                    now: io.now,
                });
            }
            Err(e) => svc.error(
                io.now,
                "console login not recorded",
                format_args!(
                    "console {peer}: could not record the console login as {who} ({outcome}), \
                     refused: {e}"
                ),
            ),
        }
        self.failed(io, svc, failures)
    }

    /// A failed login, whatever the reason: the same words after the same delay, and three in
    /// a row close the connection.
    fn failed(&mut self, io: &mut ConnIo<'_>, svc: &mut Services, failures: u8) -> Turn {
        let peer = self.peer;
        let failures = failures.saturating_add(1);
        svc.warn(
            io.now,
            "console login failed",
            format_args!("console {peer}: failed login ({failures} of {MAX_FAILURES})"),
        );
        if failures >= MAX_FAILURES {
            say(io.output, "login failed; goodbye\n");
            return Turn::close(CloseReason::LoginFailed);
        }
        self.state = ConsoleState::Delayed { failures };
        Turn {
            wake: Some(io.now + FAILURE_DELAY),
            ..Turn::default()
        }
    }

    fn command(&mut self, io: &mut ConnIo<'_>, who: String, line: &str) -> Turn {
        let command = match command::parse(line) {
            Ok(c) => c,
            Err(message) => {
                if !message.is_empty() {
                    say(io.output, &format!("{message}\n"));
                }
                say(io.output, PROMPT);
                return Turn::default();
            }
        };
        if command.changes_something() {
            log::info!("console {who}@{}: {}", self.peer, command.describe());
        }
        let unix_now = io.unix_now;
        let until =
            |d: Option<Duration>| d.map(|d| crate::admin::ban_until(unix_now, d)).transpose();
        let call = |call| Turn {
            call: Some(call),
            ..Turn::default()
        };
        let op = match command {
            Command::Help => {
                say(io.output, &format!("{HELP}{PROMPT}"));
                return Turn::default();
            }
            Command::Stats => return call(Call::Stats),
            Command::Conns => return call(Call::Conns),
            Command::Realms => return call(Call::Realms),
            Command::Kick(target) => return call(Call::Kick(target)),
            Command::Reload => return call(Call::Reload),
            Command::Shutdown => return call(Call::Shutdown),
            Command::LogLevel(level) => {
                crate::logging::set_level(level);
                say(io.output, &format!("log level is now {level}\n{PROMPT}"));
                return Turn::default();
            }
            Command::Quit => {
                say(io.output, "bye\n");
                return Turn::close(CloseReason::PeerClosed);
            }
            Command::AccountCreate { name, password } => AdminOp::CreateAccount {
                name,
                password: Secret(password),
            },
            Command::AccountPasswd { name, password } => AdminOp::SetPassword {
                name,
                password: Secret(password),
            },
            Command::AccountBan { name, duration } => match until(duration) {
                Ok(until) => AdminOp::BanAccount {
                    name,
                    until,
                    reason: format!("console: {who}"),
                },
                Err(e) => return refuse(io, &e),
            },
            Command::AccountUnban { name } => AdminOp::UnbanAccount { name },
            Command::AccountInfo { name } => AdminOp::AccountInfo { name },
            Command::AccountCharacters { name, realm, count } => AdminOp::SetCharacterCount {
                name,
                realm: crate::admin::parse_realm_ref(&realm),
                count,
            },
            Command::BanIp { net, duration } => match until(duration) {
                Ok(until) => AdminOp::BanIp {
                    net,
                    until,
                    reason: format!("console: {who}"),
                },
                Err(e) => return refuse(io, &e),
            },
            Command::UnbanIp { net } => AdminOp::UnbanIp { net },
            Command::AccountLockIp { name, setting } => AdminOp::LockIp { name, setting },
        };
        self.state = ConsoleState::Busy { who };
        Turn {
            ask: Some(DbJob::Admin(op)),
            ..Turn::default()
        }
    }
}

impl Kind for ConsoleSession {
    const TABLE: TableId = TableId(2);
    const LABEL: &'static str = "console";

    fn target(token: ConnToken) -> Target {
        Target::Console(token)
    }

    fn shape(_svc: &Services) -> Shape {
        Shape {
            max_open: MAX_CONSOLES,
            unproven_per_address: Some(UNPROVEN_PER_ADDRESS),
            unproven_max: Some(UNPROVEN_MAX),
            unproven: Buffers {
                input: UNPROVEN_INPUT,
                output: UNPROVEN_OUTPUT,
            },
            proven: Buffers {
                input: CONSOLE_INPUT,
                output: CONSOLE_OUTPUT,
            },
        }
    }

    fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn admit(
        peer: SocketAddr,
        _open: usize,
        _now: Instant,
        _unix_now: i64,
        _svc: &mut Services,
    ) -> Result<Self, Refusal> {
        Ok(ConsoleSession::new(peer))
    }

    fn on_open(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        svc.info(
            io.now,
            "console connected",
            format_args!("console {}: connected", self.peer),
        );
        say(io.output, &format!("gatehouse console\n{USER_PROMPT}"));
        Turn {
            deadline: Some(LOGIN_DEADLINE),
            ..Turn::default()
        }
    }

    fn on_input(&mut self, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let mut handled = 0;
        // A logged-in console's idle deadline runs from its last line.
        let mut deadline = None;
        loop {
            if !self.reads_input() {
                return Turn::stopped(handled, Stopped::Held, deadline);
            }
            match next_line(io.input.contiguous()) {
                NextLine::Line { text, consumed } => {
                    io.input.consume(consumed);
                    handled += 1;
                    if io.standing == Standing::Proven {
                        deadline = Some(IDLE);
                    }
                    let turn = self.line(io, svc, text);
                    // A failed login's delay is a wake-up: applied before anything else.
                    if turn.must_apply() || turn.wake.is_some() {
                        return turn.then_more(handled, deadline);
                    }
                    if turn.call.is_some() {
                        // The router answers after this turn, then reads on.
                        return Turn {
                            handled,
                            deadline,
                            ..turn
                        };
                    }
                }
                NextLine::Incomplete => {
                    return Turn::stopped(handled, Stopped::NeedInput, deadline)
                }
                NextLine::TooLong => return Turn::close(CloseReason::InputOverflow),
            }
        }
    }

    fn on_reply(&mut self, reply: DbReply, io: &mut ConnIo<'_>, svc: &mut Services) -> Turn {
        let peer = self.peer;
        let state = std::mem::replace(&mut self.state, ConsoleState::AwaitUser { failures: 0 });
        match (state, reply) {
            (
                ConsoleState::Loading {
                    failures, password, ..
                },
                DbReply::Login(StoreReply::AccountLoaded(loaded)),
            ) => self.on_account_loaded(io, svc, failures, password, loaded),
            (
                ConsoleState::Loading {
                    failures, password, ..
                },
                DbReply::Admin(Ok(AdminAnswer::ConsolePassword(hash))),
            ) => self.on_console_password_loaded(io, svc, failures, password, hash),
            (ConsoleState::Loading { failures, .. }, other) => {
                let e = other
                    .error()
                    .map_or_else(|| "an unexpected answer".to_string(), |e| e.to_string());
                svc.error(
                    io.now,
                    "console login check failed",
                    format_args!("console {peer}: login check failed: {e}"),
                );
                self.failed(io, svc, failures)
            }
            (
                ConsoleState::Recording {
                    failures,
                    outcome,
                    who,
                },
                DbReply::Login(StoreReply::LoginFailureRecorded(stored)),
            ) => self.on_recorded(io, svc, failures, outcome, who, stored),
            (ConsoleState::Busy { who }, DbReply::Admin(answer)) => {
                self.state = ConsoleState::Ready { who };
                let text = match answer {
                    Ok(AdminAnswer::Text(t)) => t,
                    Ok(AdminAnswer::IpBansChanged { text, bans }) => {
                        // Applied before the operator hears it is done.
                        svc.policies
                            .observe(&crate::policy::Observation::IpBans(&bans));
                        text
                    }
                    Ok(AdminAnswer::ConsolePassword(_)) => String::new(),
                    Err(e) => format!("error: {e}"),
                };
                say(io.output, &format!("{text}\n{PROMPT}"));
                Turn::default()
            }
            (state, other) => {
                // Not what this state waits for; nothing to do but note a failure.
                self.state = state;
                if let Some(e) = other.error() {
                    log::error!("console {peer}: store: {e}");
                }
                Turn::default()
            }
        }
    }

    fn on_credential_checked(
        &mut self,
        verdict: PasswordVerdict,
        io: &mut ConnIo<'_>,
        svc: &mut Services,
    ) -> Turn {
        let state = std::mem::replace(&mut self.state, ConsoleState::AwaitUser { failures: 0 });
        let ConsoleState::Checking { failures, subject } = state else {
            self.state = state;
            return Turn::default();
        };
        match subject {
            Subject::ConsolePassword => {
                let outcome = login::decide_console_password(verdict);
                self.record(io, svc, failures, None, outcome)
            }
            Subject::Account(account) if account.totp.is_some() => {
                say(io.output, CODE_PROMPT);
                self.state = ConsoleState::AwaitCode {
                    failures,
                    account,
                    password: verdict,
                };
                Turn::default()
            }
            Subject::Account(account) => {
                let outcome = login::decide(verdict, &CodeCheck::NotNeeded, account.security_level);
                self.record(io, svc, failures, Some(&account), outcome)
            }
        }
    }

    fn on_timer(&mut self, timer: Timer, io: &mut ConnIo<'_>, _svc: &mut Services) -> Turn {
        match timer {
            Timer::Deadline => Turn::close(CloseReason::Deadline(match io.standing {
                Standing::Unproven => "console login",
                Standing::Proven => "console",
            })),
            // After a wrong password's delay: ask again.
            Timer::Wake => {
                if let ConsoleState::Delayed { failures } = self.state {
                    self.state = ConsoleState::AwaitUser { failures };
                    say(io.output, &format!("login failed\n{USER_PROMPT}"));
                }
                Turn::default()
            }
        }
    }

    fn on_closed(
        &mut self,
        _token: ConnToken,
        reason: &CloseReason,
        now: Instant,
        svc: &mut Services,
    ) {
        svc.info(
            now,
            "console closed",
            format_args!("console {}: closed: {reason}", self.peer),
        );
    }
}

/// The console's `stats`.
pub(super) fn stats_text(view: StatsView<'_>, svc: &Services) -> String {
    let StatsView {
        clients,
        links,
        consoles,
        scrapes,
        now,
        unix_now,
        loop_stats,
        inbox_depth,
    } = view;
    let mut t = String::new();
    let c = &svc.counters;
    let uptime = now.saturating_duration_since(svc.started);
    let _ = writeln!(
        t,
        "uptime          {}",
        humantime::format_duration(Duration::from_secs(uptime.as_secs()))
    );
    let [(_, logon), (_, update), (_, world_select), (_, closing)] = game_states(clients);
    let _ = writeln!(
        t,
        "connections     {} (logon {logon}, update {update}, realm list {world_select}, closing {closing}); {links} links, {consoles} consoles, {scrapes} metrics",
        clients.len(),
    );
    let _ = writeln!(
        t,
        "accepted        {}; {} protocol errors, {} deadlines",
        c.accepted, c.protocol_errors, c.deadlines
    );
    let refused: Vec<String> = svc
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
    let tracked: Vec<String> = svc
        .policies
        .tracked()
        .into_iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = writeln!(t, "policies        {}", tracked.join(", "));
    let _ = writeln!(t, "logons          since start / last minute");
    for (outcome, total, minute) in c.outcomes.table(unix_now) {
        let _ = writeln!(t, "  {:<22} {total:>8} / {minute}", outcome.as_str());
    }
    let _ = writeln!(
        t,
        "loop            {} passes; pass time p50 < {:?}, p99 < {:?}, max bucket < {:?}; inbox depth {inbox_depth}",
        loop_stats.passes(),
        loop_stats.percentile(50.0),
        loop_stats.percentile(99.0),
        loop_stats.percentile(100.0),
    );
    if let Some((depth, s)) = svc.store_stats() {
        let latency = &c.store_latency;
        let _ = writeln!(
            t,
            "store           queue {depth}; {} done ({} failed, {} refused busy); latency p50 < {:?}, p99 < {:?}, mean {:?}, max {:?}",
            s.completed,
            s.failed,
            s.rejected_busy,
            latency.percentile(50.0),
            latency.percentile(99.0),
            latency.mean(),
            s.max_latency
        );
    }
    let (online, players) = svc.registry.online_summary();
    let list = svc.realms.stats();
    let _ = writeln!(
        t,
        "realms          {} listed, {online} linked online ({players} players); list changed {}, \
         encoded {}",
        svc.realms.realms().len(),
        list.changes,
        list.encodings
    );
    let _ = writeln!(
        t,
        "session takes   {} over link.take_rate, {} wrong digests",
        c.link_takes_limited, c.link_wrong_digests
    );
    let _ = writeln!(t, "patches         {} bytes sent", c.patch_bytes_read);
    t
}

/// The console's `conns`.
pub(super) fn conns_text(clients: &ConnTable<ClientSession>, now: Instant) -> String {
    let mut t = format!("{:<22} {:<12} {:<16} age\n", "peer", "state", "account");
    for (_, conn) in clients.iter().take(MAX_LISTED) {
        let data = &conn.session.data;
        let _ = writeln!(
            t,
            "{:<22} {:<12} {:<16} {}s",
            data.peer.to_string(),
            conn.session.state.kind().to_string(),
            data.name.map_or("-".to_string(), |n| n.to_string()),
            now.saturating_duration_since(conn.opened).as_secs()
        );
    }
    if clients.len() > MAX_LISTED {
        let _ = writeln!(t, "... and {} more", clients.len() - MAX_LISTED);
    }
    t
}

/// The console's `realms`.
pub(super) fn realms_text(svc: &Services) -> String {
    let mut t = String::new();
    for r in svc.realms.realms() {
        let state = match svc.registry.liveness(r.id) {
            Some(Liveness::Online) => "linked, online",
            Some(Liveness::Offline) => "linked, OFFLINE",
            None => "static",
        };
        let _ = writeln!(t, "{:>3} {:<24} {:<22} {state}", r.id.0, r.name, r.address);
    }
    if t.is_empty() {
        t.push_str("no realms\n");
    }
    t
}

/// Whether a client connection matches a `kick` target: `ip:port`, `ip`, or account name.
pub(super) fn kick_matches(session: &ClientSession, target: &str) -> bool {
    let data = &session.data;
    data.peer.to_string() == target
        || data.peer.ip().to_string() == target
        || data
            .name
            .is_some_and(|n| n.as_str().eq_ignore_ascii_case(target))
}
