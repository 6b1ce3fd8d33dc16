//! The inbox: a double-buffered swap queue that carries messages from other threads (DB
//! workers, I/O workers) to the loop.
//!
//! Producers push into the write half under a short lock. The loop swaps the halves once per
//! pass and drains the read half without holding any lock, so a producer never waits for the
//! loop's handling. The `mio::Waker` is poked only when the write half goes from empty to
//! non-empty: the loop always swaps after waking, so one wake per batch is enough and none is
//! lost.

use std::mem;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mio::Waker;

struct Shared<M> {
    write: Mutex<Vec<M>>,
    waker: Waker,
    /// Messages posted but not yet swapped out: the inbox depth the console reports.
    pending: AtomicUsize,
}

impl<M> Shared<M> {
    fn lock(&self) -> MutexGuard<'_, Vec<M>> {
        // A producer that panicked while pushing leaves a valid Vec behind; keep going.
        self.write.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The loop's end: swaps and drains.
pub struct Inbox<M> {
    shared: Arc<Shared<M>>,
    read: Vec<M>,
}

/// A producer's end. Cheap to clone; one per worker thread.
pub struct InboxSender<M> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for InboxSender<M> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M> Inbox<M> {
    pub fn new(waker: Waker) -> Self {
        Self {
            shared: Arc::new(Shared {
                write: Mutex::new(Vec::with_capacity(256)),
                waker,
                pending: AtomicUsize::new(0),
            }),
            read: Vec::with_capacity(256),
        }
    }

    pub fn sender(&self) -> InboxSender<M> {
        InboxSender {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Swaps the halves and hands out everything that was posted, oldest first. The read
    /// half's allocation is reused from pass to pass.
    pub fn swap(&mut self) -> std::vec::Drain<'_, M> {
        debug_assert!(self.read.is_empty());
        {
            let mut write = self.shared.lock();
            mem::swap(&mut *write, &mut self.read);
        }
        self.shared
            .pending
            .fetch_sub(self.read.len(), Ordering::Relaxed);
        self.read.drain(..)
    }

    /// Messages waiting in the write half right now.
    pub fn depth(&self) -> usize {
        self.shared.pending.load(Ordering::Relaxed)
    }
}

impl<M> InboxSender<M> {
    /// Posts a message for the loop. Fails only if the loop has gone away (its poll is closed).
    pub fn post(&self, message: M) -> std::io::Result<()> {
        let was_empty = {
            let mut write = self.shared.lock();
            let was_empty = write.is_empty();
            write.push(message);
            was_empty
        };
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        if was_empty {
            self.shared.waker.wake()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::token::WAKER;
    use mio::{Events, Poll};
    use std::thread;
    use std::time::Duration;

    #[test]
    fn many_producers_lose_nothing_and_keep_per_producer_order() {
        let mut poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), WAKER).unwrap();
        let mut inbox = Inbox::<(usize, usize)>::new(waker);
        const PRODUCERS: usize = 8;
        const EACH: usize = 20_000;
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = inbox.sender();
                thread::spawn(move || {
                    for i in 0..EACH {
                        tx.post((p, i)).unwrap();
                    }
                })
            })
            .collect();

        let mut next = [0usize; PRODUCERS];
        let mut received = 0;
        let mut events = Events::with_capacity(8);
        while received < PRODUCERS * EACH {
            poll.poll(&mut events, Some(Duration::from_millis(50)))
                .unwrap();
            for (p, i) in inbox.swap() {
                assert_eq!(i, next[p], "producer {p} out of order");
                next[p] += 1;
                received += 1;
            }
        }
        for h in handles {
            h.join().unwrap();
        }
        assert!(inbox.swap().next().is_none());
        assert_eq!(next, [EACH; PRODUCERS]);
        assert_eq!(inbox.depth(), 0);
    }

    #[test]
    fn waker_fires_when_the_inbox_goes_non_empty() {
        let mut poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), WAKER).unwrap();
        let mut inbox = Inbox::<u32>::new(waker);
        let tx = inbox.sender();
        let mut events = Events::with_capacity(8);

        thread::spawn(move || tx.post(7).unwrap());
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == WAKER));
        assert_eq!(inbox.swap().collect::<Vec<_>>(), vec![7]);
    }
}
