//! Multi-producer, single-consumer ring buffer (HBase's disruptor `RingBuffer`, used as an MPSC
//! queue of "trucks").
//!
//! Sequences start at 1: slot 0 is burned at construction, as HBase does, so that txid 0 means
//! "nothing". A sequence `s` lives in slot `s & mask`.
//!
//! Protocol (each rule is checked by the loom model in `models/`):
//! 1. A producer claims `s` with [`Ring::try_claim`] only while `s <= gating + capacity`, where
//!    `gating` is the highest sequence the consumer has taken and released. `next` only grows, so
//!    each sequence is handed to exactly one producer.
//! 2. The producer that claimed `s` is the only writer of its slot until it publishes: it writes
//!    the value, then stores `published = s` with Release.
//! 3. The consumer takes `s` only after loading `published == s` with Acquire, and is the only
//!    reader. It takes the value out of the slot (leaving `None`), then releases the slot by
//!    storing `gating` with Release; a producer's Acquire load of `gating` in rule 1 orders its
//!    write after the take.
//! 4. There is exactly one consumer: consumer operations need the `&mut RingConsumer` returned by
//!    [`Ring::new`], which is not `Clone`.
//!
//! The ring never blocks or spins: a full ring makes `try_claim` return `None`, and the caller
//! waits asynchronously (the engine uses [`crate::core::event::Event`]) until the consumer
//! releases slots.
#![allow(unsafe_code)]

use super::mutant::{Mutant, MutantSwitch};
use crate::sync::{AtomicU64, Ordering, UnsafeCell};

/// Default number of slots (HBase `hbase.regionserver.wal.disruptor.event.count`).
pub const DEFAULT_RING_CAPACITY: usize = 16 * 1024;

struct Slot<T> {
    /// The sequence last published into this slot (0 = none yet).
    published: AtomicU64,
    value: UnsafeCell<Option<T>>,
}

/// Keeps a hot atomic on a cache line (pair) of its own: producers CAS `next` while the consumer
/// stores `gating`, and on one line each store would evict the other side's copy.
#[repr(align(128))]
struct CacheLine<T>(T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The ring. Shared by producers (`&Ring`); the consumer also needs its [`RingConsumer`].
pub struct Ring<T> {
    slots: Box<[Slot<T>]>,
    mask: u64,
    capacity: u64,
    mutant: MutantSwitch,
    /// Next sequence to hand out.
    next: CacheLine<AtomicU64>,
    /// Highest sequence taken and released by the consumer.
    gating: CacheLine<AtomicU64>,
}

// SAFETY: slot values are only accessed under the protocol above: one producer writes a slot
// between claim and publish, and one consumer reads it after publish and before release. The
// values themselves move between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: as above; the ring owns its values.
unsafe impl<T: Send> Send for Ring<T> {}

/// The consumer's exclusive handle: the next sequence it will take.
#[derive(Debug)]
pub struct RingConsumer {
    next: u64,
}

impl RingConsumer {
    /// The next sequence the consumer will take.
    pub fn next_sequence(&self) -> u64 {
        self.next
    }
}

impl<T> Ring<T> {
    /// A ring of `capacity` slots (a power of two, at least 2) and its consumer handle.
    pub fn new(capacity: usize) -> (Self, RingConsumer) {
        Self::with_mutant(capacity, MutantSwitch::OFF)
    }

    /// As [`Ring::new`], running a mutant (models and simulator only).
    pub fn with_mutant(capacity: usize, mutant: MutantSwitch) -> (Self, RingConsumer) {
        assert!(capacity >= 2, "ring capacity {capacity} must be at least 2");
        assert!(capacity.is_power_of_two(), "ring capacity {capacity} must be a power of two");
        let slots = (0..capacity)
            .map(|_| Slot { published: AtomicU64::new(0), value: UnsafeCell::new(None) })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        let ring = Ring {
            slots,
            mask: capacity as u64 - 1,
            capacity: capacity as u64,
            mutant,
            next: CacheLine(AtomicU64::new(1)),
            gating: CacheLine(AtomicU64::new(0)),
        };
        (ring, RingConsumer { next: 1 })
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    fn slot(&self, seq: u64) -> &Slot<T> {
        &self.slots[(seq & self.mask) as usize]
    }

    /// Claims the next sequence, or `None` if the ring is full (rule 1).
    pub fn try_claim(&self) -> Option<u64> {
        let mut cur = self.next.load(Ordering::Acquire);
        loop {
            let gating = self.gating.load(Ordering::Acquire);
            if cur > gating + self.capacity && !self.mutant.is(Mutant::RingNoGatingCheck) {
                return None;
            }
            match self.next.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(cur),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Writes `value` into the slot of the claimed `seq` and publishes it (rule 2).
    pub fn publish(&self, seq: u64, value: T) {
        let slot = self.slot(seq);
        if self.mutant.is(Mutant::RingPublishBeforeWrite) {
            slot.published.store(seq, Ordering::Release);
        }
        // SAFETY: `seq` was claimed by this caller (rule 1), so no other producer writes this
        // slot, and the consumer has released the slot's previous sequence (gating >= seq -
        // capacity, loaded with Acquire), so it no longer reads it; the consumer does not read
        // `seq` before the Release store below.
        slot.value.with_mut(|p| unsafe { *p = Some(value) });
        slot.published.store(seq, Ordering::Release);
    }

    /// True when `seq` has been published and not yet overwritten by a later lap.
    pub fn is_published(&self, seq: u64) -> bool {
        self.slot(seq).published.load(Ordering::Acquire) == seq
    }

    /// Highest sequence claimed so far (HBase `getCursor`); 0 when nothing was claimed.
    pub fn cursor(&self) -> u64 {
        self.next.load(Ordering::Acquire) - 1
    }

    /// Highest sequence the consumer has released.
    pub fn gating(&self) -> u64 {
        self.gating.load(Ordering::Acquire)
    }

    /// True when the consumer's next sequence is published (work is pending).
    pub fn has_published(&self, consumer: &RingConsumer) -> bool {
        self.is_published(consumer.next)
    }

    /// Takes the consumer's next sequence if it is published (rule 3). Does not release the
    /// slot; call [`Ring::release`] after a batch.
    pub fn poll(&self, consumer: &mut RingConsumer) -> Option<(u64, T)> {
        let seq = consumer.next;
        let slot = self.slot(seq);
        if slot.published.load(Ordering::Acquire) != seq {
            return None;
        }
        // SAFETY: `published == seq` was loaded with Acquire, so the producer's write
        // happened-before; the consumer handle is exclusive (rule 4), and producers of the next
        // lap wait for `release` before writing this slot.
        let value = slot.value.with_mut(|p| unsafe { (*p).take() });
        consumer.next += 1;
        match value {
            Some(v) => Some((seq, v)),
            None => panic!("ring slot {seq} was published without a value"),
        }
    }

    /// Releases every slot the consumer has taken, so producers may reuse them (rule 3).
    pub fn release(&self, consumer: &RingConsumer) {
        self.gating.store(consumer.next - 1, Ordering::Release);
    }

    /// Slots currently free for producers (a snapshot).
    pub fn remaining_capacity(&self) -> u64 {
        let used = self.next.load(Ordering::Acquire) - 1 - self.gating.load(Ordering::Acquire);
        self.capacity.saturating_sub(used)
    }
}

#[cfg(all(test, not(hwal_loom)))]
mod tests {
    use super::*;

    /// Sequences start at 1, fill the ring, wrap around after release, and keep FIFO order.
    #[test]
    fn claims_fill_wrap_and_stay_in_order() {
        let (ring, mut c) = Ring::<u64>::new(4);
        for expect in 1..=4 {
            let s = ring.try_claim().unwrap();
            assert_eq!(s, expect);
            ring.publish(s, s * 10);
        }
        assert_eq!(ring.try_claim(), None, "a full ring must refuse claims");
        assert_eq!(ring.cursor(), 4);
        assert_eq!(ring.poll(&mut c), Some((1, 10)));
        assert_eq!(ring.try_claim(), None, "taken but unreleased slots stay reserved");
        ring.release(&c);
        let s = ring.try_claim().unwrap();
        assert_eq!(s, 5);
        ring.publish(s, 50);
        let got: Vec<_> = std::iter::from_fn(|| ring.poll(&mut c)).collect();
        assert_eq!(got, vec![(2, 20), (3, 30), (4, 40), (5, 50)]);
        ring.release(&c);
        assert_eq!(ring.remaining_capacity(), 4);
    }

    /// A claimed but unpublished sequence blocks the consumer at that point (no skipping).
    #[test]
    fn consumer_stops_at_first_unpublished() {
        let (ring, mut c) = Ring::<u32>::new(8);
        let a = ring.try_claim().unwrap();
        let b = ring.try_claim().unwrap();
        ring.publish(b, 2);
        assert!(!ring.has_published(&c));
        assert_eq!(ring.poll(&mut c), None);
        ring.publish(a, 1);
        assert_eq!(ring.poll(&mut c), Some((1, 1)));
        assert_eq!(ring.poll(&mut c), Some((2, 2)));
    }

    /// Many OS-thread producers: every item arrives exactly once, each producer's items in order.
    #[test]
    fn concurrent_producers_lose_nothing() {
        let (ring, mut c) = Ring::<(usize, u32)>::new(64);
        let ring = std::sync::Arc::new(ring);
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..5000u32 {
                        let s = loop {
                            match ring.try_claim() {
                                Some(s) => break s,
                                None => std::thread::yield_now(),
                            }
                        };
                        ring.publish(s, (p, i));
                    }
                })
            })
            .collect();
        let mut last = [None::<u32>; 4];
        let mut total = 0;
        while total < 20_000 {
            match ring.poll(&mut c) {
                Some((_, (p, i))) => {
                    assert!(last[p].is_none_or(|l| l + 1 == i), "producer {p} out of order");
                    last[p] = Some(i);
                    total += 1;
                }
                None => {
                    ring.release(&c);
                    std::thread::yield_now();
                }
            }
        }
        for h in producers {
            h.join().unwrap();
        }
        assert_eq!(ring.poll(&mut c), None);
    }
}
