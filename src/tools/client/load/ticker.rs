//! Wakes the load engine at each open-loop start time. mio's poll timeout has whole
//! milliseconds (it rounds up), which would start logons up to a millisecond late and add
//! that to their latency; a thread that sleeps to each scheduled time (nanosleep: tens of
//! microseconds) and then wakes the poll through a [`mio::Waker`] keeps starts on time.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::schedule::Schedule;

/// The longest single sleep, so that a stop is noticed soon.
const NAP: Duration = Duration::from_millis(50);

/// Runs until the schedule has no more starts or it is dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub fn start(schedule: Schedule, waker: mio::Waker) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("load-ticker".into())
            .spawn(move || {
                let mut i = 0;
                while let Some(at) = schedule.planned(i) {
                    loop {
                        if stopped.load(Ordering::Relaxed) {
                            return;
                        }
                        let left = at.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        std::thread::sleep(left.min(NAP));
                    }
                    if waker.wake().is_err() {
                        return;
                    }
                    i += 1;
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
