//! Loom model of the consumer gate (`hwal::core::gate`) driving a real `hwal::core::ring::Ring`.
//!
//! Shape (the engine's scheduled pipeline, reduced to the gate's part):
//! 1. Each producer claims a slot, publishes `(producer, i)`, and calls `try_schedule`; the winner
//!    runs the consumer inline (`while consume() {}`). Inline is sound because the gate admits one
//!    consume run at a time; the engine's consumer mutex is modelled by a loom `Mutex`.
//! 2. A consume run drains with `poll`, `release`s, keeps running while work is published, and
//!    otherwise leaves through `idle_exit(|| ring.has_published(..))`, as `consume_locked` does.
//! 3. After every thread joined: every item was consumed exactly once, each producer's items in
//!    order, and the flag is clear (nothing left behind with nobody scheduled).

use hwal::core::gate::ConsumerGate;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal::core::ring::{Ring, RingConsumer};
use hwal_models::harness::{bound, check, expect_panic};
use loom::sync::{Arc, Mutex};
use loom::thread;

type Item = (usize, u32);

struct ConsumerSide {
    ring_consumer: RingConsumer,
    consumed: Vec<Item>,
}

struct Pipeline {
    ring: Ring<Item>,
    gate: ConsumerGate,
    consumer: Mutex<ConsumerSide>,
}

impl Pipeline {
    fn new(capacity: usize, mutant: Mutant) -> Self {
        let switch = MutantSwitch::new(mutant);
        let (ring, ring_consumer) = Ring::with_mutant(capacity, MutantSwitch::OFF);
        Pipeline {
            ring,
            gate: ConsumerGate::with_mutant(switch),
            consumer: Mutex::new(ConsumerSide { ring_consumer, consumed: Vec::new() }),
        }
    }

    /// A producer's append: claim, publish, and run the consumer if this call won the gate.
    fn produce(&self, item: Item) {
        let seq = self.ring.try_claim().expect("the gate model's ring is sized never to fill");
        self.ring.publish(seq, item);
        if self.gate.try_schedule() {
            while self.consume() {}
        }
    }

    /// One consume run; true when the run must be resubmitted (rule 2).
    fn consume(&self) -> bool {
        let mut guard = self.consumer.lock().unwrap();
        let st = &mut *guard;
        let mut drained = false;
        while let Some((_, item)) = self.ring.poll(&mut st.ring_consumer) {
            st.consumed.push(item);
            drained = true;
        }
        if drained {
            self.ring.release(&st.ring_consumer);
        }
        if self.ring.has_published(&st.ring_consumer) {
            return true;
        }
        self.gate.idle_exit(|| self.ring.has_published(&st.ring_consumer))
    }

    /// Rule 3, checked after every producer joined.
    fn assert_all_consumed(&self, producers: usize, per_producer: u32) {
        let st = self.consumer.lock().unwrap();
        let total = producers * per_producer as usize;
        assert_eq!(
            st.consumed.len(),
            total,
            "LOST WAKE-UP: {} of {total} published items consumed, the rest left in the ring with scheduled={}",
            st.consumed.len(),
            self.gate.is_scheduled()
        );
        for p in 0..producers {
            let mine: Vec<u32> = st.consumed.iter().filter(|(q, _)| *q == p).map(|(_, i)| *i).collect();
            assert_eq!(mine, (0..per_producer).collect::<Vec<_>>(), "producer {p}'s items out of order or duplicated");
        }
        assert!(!self.gate.is_scheduled(), "LOST WAKE-UP: the flag is stuck on with no consume run left");
        assert!(!self.ring.has_published(&st.ring_consumer), "LOST WAKE-UP: a published item is left in the ring");
    }
}

/// The whole model: `producers` threads (the main thread is producer 0) each append
/// `per_producer` items. With `roller`, one more thread plays the roller rescheduling the
/// consumer after a swap: `force_schedule`, then a consume run regardless of the flag (rule 4 of
/// `core::gate`).
fn gate_model(producers: usize, per_producer: u32, roller: bool, mutant: Mutant) -> impl Fn() + Sync + Send + 'static {
    move || {
        let capacity = (producers * per_producer as usize).next_power_of_two().max(2);
        let pipeline = Arc::new(Pipeline::new(capacity, mutant));
        let mut handles: Vec<_> = (1..producers)
            .map(|p| {
                let pipeline = pipeline.clone();
                thread::spawn(move || (0..per_producer).for_each(|i| pipeline.produce((p, i))))
            })
            .collect();
        if roller {
            let pipeline = pipeline.clone();
            handles.push(thread::spawn(move || {
                pipeline.gate.force_schedule();
                while pipeline.consume() {}
            }));
        }
        (0..per_producer).for_each(|i| pipeline.produce((0, i)));
        for h in handles {
            h.join().unwrap();
        }
        pipeline.assert_all_consumed(producers, per_producer);
    }
}

/// Two producers appending two items each: nothing is lost, duplicated or reordered, and the
/// gate never strands published work with nobody scheduled.
#[test]
fn gate_two_producers_two_items() {
    check("gate-2p-x2", bound(3, Some(4)), gate_model(2, 2, false, Mutant::None));
}

/// Three producers appending one item each: the same property with more schedulers racing.
#[test]
fn gate_three_producers_one_item() {
    check("gate-3p-x1", bound(2, Some(3)), gate_model(3, 1, false, Mutant::None));
}

/// Two producers race the roller's forced reschedule: a producer that loses `try_schedule` to
/// the forced flag is still served by the roller's run.
#[test]
fn gate_roller_forced_schedule() {
    check("gate-2p-x1-roller", bound(2, Some(3)), gate_model(2, 1, true, Mutant::None));
}

/// The configurations above, for running each mutant against every one of them.
const CONFIGS: [(&str, usize, u32, bool); 3] =
    [("2p-x2", 2, 2, false), ("3p-x1", 3, 1, false), ("2p-x1-roller", 2, 1, true)];

/// Mutant `GateNoRecheck` (the idle exit does not re-check for work) strands an item, in every
/// configuration.
#[test]
fn mutant_gate_no_recheck_is_caught() {
    for (name, producers, items, roller) in CONFIGS {
        let model = gate_model(producers, items, roller, Mutant::GateNoRecheck);
        expect_panic(&format!("gate-no-recheck/{name}"), &["LOST WAKE-UP"], model);
    }
}

/// Mutant `GateWeakOrdering` (Release/Acquire, no SeqCst fences) loses the wake-up through the
/// store-buffering reordering, in every configuration.
#[test]
fn mutant_gate_weak_ordering_is_caught() {
    for (name, producers, items, roller) in CONFIGS {
        let model = gate_model(producers, items, roller, Mutant::GateWeakOrdering);
        expect_panic(&format!("gate-weak-ordering/{name}"), &["LOST WAKE-UP"], model);
    }
}
