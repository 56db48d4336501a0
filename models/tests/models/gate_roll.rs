//! Loom model of the consumer gate racing a writer roll: a producer skips scheduling while the
//! pipeline is paused (waiting-roll, or a broken writer), and the roller swaps the writer and
//! reschedules the consumer itself (`should_schedule`, `consume_locked`, `wait_for_safe_point`
//! and `replace_writer` in `wal/scheduled/`, reduced to the gate, the ring and the word).
//!
//! Shape:
//! 1. A producer claims, publishes, and schedules a consume run only if the word shows neither
//!    waiting-roll nor a broken writer and it wins the gate; the winner runs the consumer inline.
//! 2. A consume run under a pause returns at once and leaves the flag set (the roll reschedules);
//!    otherwise it drains and leaves through `idle_exit`, as in the gate model.
//! 3. The roller (main thread), under the consumer mutex: pauses (either `force_schedule` +
//!    `set_waiting_roll`, or a failed sync's `mark_broken`), then `force_schedule` +
//!    `advance_epoch`, then runs the consumer.
//!
//! Property, after the joins: the item was consumed and the flag is clear.
//!
//! Finding: reading the word *before* the gate's SeqCst fence (the engine's `should_schedule`
//! when this model was written) loses the wake-up — the producer reads a stale "paused" while the
//! roller's consume run misses the publish, the store-buffering pattern of rule 3 of
//! `core::gate`. `ConsumerGate::try_schedule_unless` reads it after the fence (rule 5).

use hwal::core::epoch::{EpochAndState, RollState};
use hwal::core::gate::ConsumerGate;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal::core::ring::{Ring, RingConsumer};
use hwal_models::harness::{bound, check, expect_panic};
use loom::sync::{Arc, Mutex};
use loom::thread;

type Item = (usize, u32);

/// How a producer decides whether to schedule the consumer (rule 1).
#[derive(Clone, Copy, Debug)]
enum ShouldSchedule {
    /// `gate.try_schedule_unless(|| paused(word.load()))`: the word is read after the fence.
    PausedAfterFence,
    /// Model-level mutant: `!paused(word.load()) && gate.try_schedule()`, the word read before
    /// the fence.
    PausedBeforeFence,
}

/// How the roller pauses the pipeline (rule 3).
#[derive(Clone, Copy, Debug)]
enum Pause {
    /// A requested roll: waiting-roll with the flag forced on.
    WaitingRoll,
    /// A failed sync broke the writer; the roll it requested finds it broken.
    BrokenWriter,
}

fn paused(s: RollState) -> bool {
    s.writer_broken() || s.waiting_roll()
}

struct ConsumerSide {
    ring_consumer: RingConsumer,
    consumed: Vec<Item>,
}

struct Pipeline {
    ring: Ring<Item>,
    gate: ConsumerGate,
    word: EpochAndState,
    consumer: Mutex<ConsumerSide>,
}

impl Pipeline {
    fn should_schedule(&self, how: ShouldSchedule) -> bool {
        match how {
            ShouldSchedule::PausedAfterFence => self.gate.try_schedule_unless(|| paused(self.word.load())),
            ShouldSchedule::PausedBeforeFence => !paused(self.word.load()) && self.gate.try_schedule(),
        }
    }

    fn produce(&self, item: Item, how: ShouldSchedule) {
        let seq = self.ring.try_claim().expect("the model's ring is sized never to fill");
        self.ring.publish(seq, item);
        if self.should_schedule(how) {
            while self.consume() {}
        }
    }

    /// One consume run (rule 2); true when it must be resubmitted.
    fn consume(&self) -> bool {
        let mut guard = self.consumer.lock().unwrap();
        let st = &mut *guard;
        if paused(self.word.load()) {
            return false;
        }
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

    /// The roller (rule 3).
    fn roll(&self, pause: Pause) {
        {
            let _st = self.consumer.lock().unwrap();
            match pause {
                Pause::WaitingRoll => {
                    self.gate.force_schedule();
                    self.word.set_waiting_roll();
                }
                Pause::BrokenWriter => {
                    let _ = self.word.mark_broken(0).expect("epoch 0's writer breaks once");
                }
            }
        }
        // (With waiting-roll the engine submits a consume run here; paused, it returns at once.)
        {
            let _st = self.consumer.lock().unwrap();
            self.gate.force_schedule();
            self.word.advance_epoch();
        }
        while self.consume() {}
    }
}

fn roll_model(producers: usize, pause: Pause, how: ShouldSchedule, mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let (ring, ring_consumer) = Ring::with_mutant(4, MutantSwitch::OFF);
        let pipeline = Arc::new(Pipeline {
            ring,
            gate: ConsumerGate::with_mutant(MutantSwitch::new(mutant)),
            word: EpochAndState::new(),
            consumer: Mutex::new(ConsumerSide { ring_consumer, consumed: Vec::new() }),
        });
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let pipeline = pipeline.clone();
                thread::spawn(move || pipeline.produce((p, 0), how))
            })
            .collect();
        pipeline.roll(pause);
        for h in handles {
            h.join().unwrap();
        }
        let st = pipeline.consumer.lock().unwrap();
        assert_eq!(
            st.consumed.len(),
            producers,
            "LOST WAKE-UP: {} of {producers} items consumed after the roll, scheduled={}",
            st.consumed.len(),
            pipeline.gate.is_scheduled()
        );
        assert!(!pipeline.gate.is_scheduled(), "LOST WAKE-UP: the flag is stuck on with no consume run left");
    }
}

/// The checked configurations: (name, producers, pause, CI bound, deep bound).
const CONFIGS: [(&str, usize, Pause, usize, usize); 4] = [
    ("gate-roll-waiting-1p", 1, Pause::WaitingRoll, 6, 8),
    ("gate-roll-broken-1p", 1, Pause::BrokenWriter, 6, 8),
    ("gate-roll-waiting-2p", 2, Pause::WaitingRoll, 2, 3),
    ("gate-roll-broken-2p", 2, Pause::BrokenWriter, 2, 3),
];

fn check_config(index: usize) {
    let (name, producers, pause, ci, deep) = CONFIGS[index];
    check(name, bound(ci, Some(deep)), roll_model(producers, pause, ShouldSchedule::PausedAfterFence, Mutant::None));
}

/// One producer racing a requested roll: its item is consumed, by its own run or the roller's.
#[test]
fn gate_roll_waiting_roll_one_producer() {
    check_config(0);
}

/// One producer racing the roll that replaces a broken writer: the same.
#[test]
fn gate_roll_broken_writer_one_producer() {
    check_config(1);
}

/// Two producers racing a requested roll (and each other for the gate).
#[test]
fn gate_roll_waiting_roll_two_producers() {
    check_config(2);
}

/// Two producers racing the roll that replaces a broken writer.
#[test]
fn gate_roll_broken_writer_two_producers() {
    check_config(3);
}

/// Model-level mutant: the pause read before the gate's fence (the engine's `should_schedule`
/// when this model was written) strands the item across the roll, for both kinds of pause.
#[test]
fn mutant_pause_read_before_fence_is_caught() {
    for (name, producers, pause, _, _) in CONFIGS {
        let model = roll_model(producers, pause, ShouldSchedule::PausedBeforeFence, Mutant::None);
        expect_panic(&format!("pause-read-before-fence/{name}"), &["LOST WAKE-UP"], model);
    }
}

/// Mutants `GateNoRecheck` and `GateWeakOrdering` are caught by the roll models too.
#[test]
fn mutant_gate_mutants_are_caught_across_a_roll() {
    for mutant in [Mutant::GateNoRecheck, Mutant::GateWeakOrdering] {
        for (name, producers, pause, _, _) in CONFIGS {
            let model = roll_model(producers, pause, ShouldSchedule::PausedAfterFence, mutant);
            expect_panic(&format!("{}/{name}", mutant.name()), &["LOST WAKE-UP"], model);
        }
    }
}
