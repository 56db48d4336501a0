//! Loom model of the MPSC ring (`hwal::core::ring`): a tiny ring, several producers, one consumer.
//!
//! Shape:
//! 1. Producers claim as the engine's `claim` does: `listen` on the production `Event`, then
//!    `try_claim`, and wait on the listener while the ring is full; then `publish` their items.
//!    Each bumps a `finished` counter at the end.
//! 2. The consumer (the main thread) `poll`s, and after a batch `release`s and notifies the event,
//!    as `drain_ring` does, so the ring fills up with taken-but-unreleased slots and wraps around.
//!    Finding nothing, it spins with `yield_now`. Only the consumer spins: with a spinning
//!    producer too, loom's scheduler can oscillate between the two spinners forever (tokio-rs/loom
//!    issue 53; measured here: "Model exceeded maximum number of branches").
//! 3. Slot contents are loom `UnsafeCell`s: an overwrite before the consumer took the value, or a
//!    read before the producer's write happened-before it, is a loom causality violation.
//! 4. Items arrive exactly once, in sequence order, each producer's in its own order; if every
//!    producer finished and the next sequence is still not published, an item was lost.

use hwal::core::event::Event;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal::core::ring::Ring;
use hwal_models::harness::{bound, check, expect_panic};
use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

type Item = (usize, u32);

/// `producers` threads push `per_producer` items each through a ring of `capacity` slots.
fn ring_model(capacity: usize, producers: usize, per_producer: u32, mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let (ring, mut consumer) = Ring::<Item>::with_mutant(capacity, MutantSwitch::new(mutant));
        let ring = Arc::new(ring);
        let space = Arc::new(Event::new());
        let finished = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let (ring, space, finished) = (ring.clone(), space.clone(), finished.clone());
                thread::spawn(move || {
                    for i in 0..per_producer {
                        // The engine's `claim`: listen before trying, wait for space when full.
                        let seq = loop {
                            let space_freed = space.listen();
                            if let Some(seq) = ring.try_claim() {
                                break seq;
                            }
                            block_on(space_freed);
                        };
                        ring.publish(seq, (p, i));
                    }
                    finished.fetch_add(1, Ordering::Release);
                })
            })
            .collect();
        let total = producers * per_producer as usize;
        let mut got: Vec<Item> = Vec::with_capacity(total);
        let mut unreleased = false;
        while got.len() < total {
            match ring.poll(&mut consumer) {
                Some((seq, item)) => {
                    assert_eq!(seq, got.len() as u64 + 1, "sequence skipped or repeated");
                    got.push(item);
                    unreleased = true;
                }
                None => {
                    if unreleased {
                        ring.release(&consumer);
                        space.notify_all();
                        unreleased = false;
                    }
                    if finished.load(Ordering::Acquire) == producers && !ring.has_published(&consumer) {
                        panic!(
                            "LOST ITEM: every producer finished but sequence {} is not published ({} of {total} taken)",
                            consumer.next_sequence(),
                            got.len()
                        );
                    }
                    thread::yield_now();
                }
            }
        }
        ring.release(&consumer);
        for h in handles {
            h.join().unwrap();
        }
        assert!(ring.poll(&mut consumer).is_none(), "DUPLICATE: the ring yields more than was published");
        for p in 0..producers {
            let mine: Vec<u32> = got.iter().filter(|(q, _)| *q == p).map(|(_, i)| *i).collect();
            assert_eq!(
                mine,
                (0..per_producer).collect::<Vec<_>>(),
                "producer {p}'s items lost, duplicated or reordered"
            );
        }
        assert_eq!(ring.remaining_capacity(), capacity as u64, "released ring must be empty");
    }
}

/// Two producers push two items each through two slots: the ring fills, wraps around twice, and
/// no slot is overwritten before it is consumed or read before it is published.
#[test]
fn ring_two_slots_two_producers_wrap() {
    check("ring-cap2-2p-x2", bound(2, Some(3)), ring_model(2, 2, 2, Mutant::None));
}

/// Two producers push three items each through four slots: a full ring with a partial lap.
#[test]
fn ring_four_slots_two_producers() {
    check("ring-cap4-2p-x3", bound(1, Some(2)), ring_model(4, 2, 3, Mutant::None));
}

/// The configurations above (capacity, producers, items each), for the mutant checks.
const CONFIGS: [(&str, usize, usize, u32); 2] = [("cap2-2p-x2", 2, 2, 2), ("cap4-2p-x3", 4, 2, 3)];

/// Mutant `RingPublishBeforeWrite` lets the consumer read a slot the producer is still writing,
/// in every configuration.
#[test]
fn mutant_ring_publish_before_write_is_caught() {
    for (name, capacity, producers, items) in CONFIGS {
        let model = ring_model(capacity, producers, items, Mutant::RingPublishBeforeWrite);
        let needles = ["Causality violation", "published without a value"];
        expect_panic(&format!("ring-publish-before-write/{name}"), &needles, model);
    }
}

/// Mutant `RingNoGatingCheck` lets a producer overwrite a slot the consumer has not taken, in
/// every configuration.
#[test]
fn mutant_ring_no_gating_check_is_caught() {
    for (name, capacity, producers, items) in CONFIGS {
        let model = ring_model(capacity, producers, items, Mutant::RingNoGatingCheck);
        expect_panic(&format!("ring-no-gating-check/{name}"), &["Causality violation", "LOST ITEM"], model);
    }
}
