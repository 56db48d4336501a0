//! A broadcast event: tasks wait for "something changed" without spinning.
//!
//! Protocol:
//! 1. A waiter calls [`Event::listen`] *before* re-checking its condition; the listener records
//!    the event's generation at that moment.
//! 2. [`Event::notify_all`] bumps the generation and takes the wakers under the mutex.
//! 3. A listener resolves once the generation differs from the one it recorded; it re-checks the
//!    generation under the mutex before registering, so a notify between rule 1 and its first
//!    poll is never missed.
//!
//! Used for producers waiting on a full ring, and anything else that waits for a watermark.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::{lock, AtomicU64, Mutex, Ordering};

/// A generation-counting broadcast event.
#[derive(Debug, Default)]
pub struct Event {
    generation: AtomicU64,
    wakers: Mutex<Vec<Waker>>,
}

impl Event {
    /// A new event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts listening (rule 1).
    pub fn listen(&self) -> Listener<'_> {
        Listener { event: self, seen: self.generation.load(Ordering::SeqCst) }
    }

    /// Wakes every listener (rule 2).
    pub fn notify_all(&self) {
        let wakers = {
            let mut w = lock(&self.wakers);
            self.generation.fetch_add(1, Ordering::SeqCst);
            std::mem::take(&mut *w)
        };
        for w in wakers {
            w.wake();
        }
    }
}

/// Future returned by [`Event::listen`].
pub struct Listener<'a> {
    event: &'a Event,
    seen: u64,
}

impl Future for Listener<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.event.generation.load(Ordering::SeqCst) != self.seen {
            return Poll::Ready(());
        }
        let mut w = lock(&self.event.wakers);
        if self.event.generation.load(Ordering::SeqCst) != self.seen {
            return Poll::Ready(());
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
