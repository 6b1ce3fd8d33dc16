//! The world gate wired to gatehouse over the realm link — what `gatehouse world-gate` runs:
//! authenticate the link, register the realm, heartbeat on a thread, and take each arriving
//! player's ticket through the link with check-then-take (TakeSessionChecked): gatehouse
//! checks the client's digest before it gives the ticket out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::account::AccountName;
use crate::protocol::version::Build;
use crate::realms::link::client::{Client, LinkClientError};
use crate::realms::link::message::{CheckedTake, RealmAnnouncement};
use crate::srp6::ClientDigest;
use crate::tools::world_gate::{
    GateHandle, SharedTickets, Ticket, TicketError, TicketSource, TicketTake, WorldGate,
};

/// Tickets taken from gatehouse over the realm link.
pub struct LinkTickets {
    link: Arc<Mutex<Client>>,
}

impl TicketSource for LinkTickets {
    fn take_checked(
        &mut self,
        name: &AccountName,
        proof: &ClientDigest,
    ) -> Result<TicketTake, TicketError> {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        match link.take_session_checked(name, proof) {
            Ok(CheckedTake::Taken(g)) => Ok(TicketTake::Taken(Ticket {
                session_key: g.session_key,
                account_id: g.account_id.0,
                security_level: g.security_level,
            })),
            Ok(CheckedTake::NoTicket) => Ok(TicketTake::NoTicket),
            Ok(CheckedTake::WrongDigest) => Ok(TicketTake::WrongDigest),
            Err(e) => Err(TicketError::Unavailable(e.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateStartError {
    #[error("realm link: {0}")]
    Link(#[from] LinkClientError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// What the gate needs to run.
pub struct GateOptions {
    /// gatehouse's realm-link listener.
    pub link: SocketAddr,
    pub secret: Vec<u8>,
    /// What to register; its `address` is also where the gate listens.
    pub realm: RealmAnnouncement,
    /// The client build this gate's world speaks (decides the challenge layout).
    pub build: Build,
    pub heartbeat_every: Duration,
    pub timeout: Duration,
}

/// A running gate: stop it, or drop its link to see the realm go offline.
pub struct RunningGate {
    gate: GateHandle,
    link: Arc<Mutex<Client>>,
    stop: Arc<AtomicBool>,
    heartbeats: Option<JoinHandle<()>>,
}

impl RunningGate {
    pub fn start(mut options: GateOptions) -> Result<RunningGate, GateStartError> {
        let listen_err = |addr: &str| {
            let addr = addr.to_string();
            move |source| GateStartError::Listen { addr, source }
        };
        let gate = WorldGate::bind(options.realm.address.as_str(), options.build)
            .map_err(listen_err(&options.realm.address))?;
        // Port 0 asks the OS for one: announce the port actually bound.
        let bound = gate
            .local_addr()
            .map_err(listen_err(&options.realm.address))?;
        if options.realm.address.ends_with(":0") {
            options.realm.address = bound.to_string();
        }
        let mut client = Client::connect(
            options.link,
            options.realm.realm_id,
            &options.secret,
            options.timeout,
        )?;
        client.register(&options.realm)?;
        let link = Arc::new(Mutex::new(client));
        let tickets: SharedTickets = Arc::new(Mutex::new(LinkTickets {
            link: Arc::clone(&link),
        }));
        let gate = gate
            .spawn(tickets)
            .map_err(listen_err(&options.realm.address))?;
        log::info!(
            "world gate for {} listening on {}",
            options.realm.realm_id,
            gate.local_addr()
        );

        let stop = Arc::new(AtomicBool::new(false));
        let heartbeats = {
            let link = Arc::clone(&link);
            let stop = Arc::clone(&stop);
            let every = options.heartbeat_every;
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    thread::sleep(every);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut link = link.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(e) = link.heartbeat(0.0, 0) {
                        log::error!("realm link heartbeat failed: {e}");
                        break;
                    }
                }
            })
        };
        Ok(RunningGate {
            gate,
            link,
            stop,
            heartbeats: Some(heartbeats),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.gate.local_addr()
    }

    /// Stops heartbeating without a word to gatehouse: as if the world server hung.
    pub fn stop_heartbeats(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.heartbeats.take() {
            let _ = h.join();
        }
    }

    /// Stops the gate and closes the link (gatehouse shows the realm offline).
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_heartbeats();
        let result = self.gate.stop();
        // The gate's ticket source held the other reference: the link closes here.
        drop(self.link);
        result
    }

    /// Serves until the process is stopped.
    pub fn wait(mut self) {
        if let Some(h) = self.heartbeats.take() {
            let _ = h.join();
        }
        log::error!("heartbeats stopped; the world gate exits");
        let _ = self.gate.stop();
    }
}
