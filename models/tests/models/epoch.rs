//! Loom model of `hwal::core::epoch::EpochAndState` as the scheduled pipeline uses it: every
//! transition and every epoch check happens under the consumer mutex (a loom `Mutex` here).
//!
//! Actors (as in `wal/scheduled/consume.rs` and `roll.rs`):
//! 1. Roller (main thread): sets waiting-roll, releases the lock (the engine waits for the safe
//!    point there), then swaps the writer: `advance_epoch`.
//! 2. Sync runner: captures the epoch when the sync is issued, syncs outside the lock, and on
//!    completion advances the synced watermark only if `accepts(epoch)`.
//! 3. Two failing syncs: each captures its epoch when issued, and on failure calls
//!    `mark_broken(epoch)`.
//!
//! Next to the word, the model keeps a ghost of the truth: which writer generation is current and
//! whether it broke. Properties, checked inside each critical section:
//! - a completion is accepted exactly when it was issued on the current, unbroken writer, so a
//!   stale-epoch completion never advances the watermark (and a current one always does);
//! - `mark_broken` succeeds at most once per epoch, and only for the current writer;
//! - the roll clears both bits and bumps the epoch by one.

use hwal::core::epoch::EpochAndState;
use hwal::core::mutant::{Mutant, MutantSwitch};
use hwal_models::harness::{bound, check, expect_panic};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// The sync runner's txid: everything up to it is in the writer it syncs.
const TXID: u64 = 5;

/// What the consumer mutex guards in the model.
struct Consumer {
    /// The synced-txid watermark.
    synced: u64,
    /// Ghost: the generation of the current writer (one per epoch).
    writer_generation: u32,
    /// Ghost: the current writer failed.
    writer_broken: bool,
    /// Ghost: successful `mark_broken` calls, per epoch.
    broken_marks: [u32; 2],
}

struct Shared {
    word: EpochAndState,
    consumer: Mutex<Consumer>,
}

impl Shared {
    /// A sync is issued under the lock and captures the epoch; the ghost remembers the writer.
    fn issue(&self) -> (u32, u32) {
        let st = self.consumer.lock().unwrap();
        (self.word.load().epoch(), st.writer_generation)
    }

    /// The engine's `sync_completed_locked`, reduced to the epoch check and the watermark.
    fn complete(&self, epoch: u32, generation: u32) {
        let mut st = self.consumer.lock().unwrap();
        let current = generation == st.writer_generation && !st.writer_broken;
        if self.word.accepts(epoch) {
            assert!(
                current,
                "STALE COMPLETION accepted: issued at epoch {epoch} on writer {generation}; \
                 current writer {} broken={}",
                st.writer_generation, st.writer_broken
            );
            st.synced = st.synced.max(TXID);
        } else {
            assert!(!current, "a completion from the current, unbroken writer {generation} was refused");
        }
    }

    /// The engine's `on_exception` for a failed sync issued at `epoch`.
    fn fail(&self, epoch: u32, generation: u32) {
        let mut st = self.consumer.lock().unwrap();
        let current = generation == st.writer_generation && !st.writer_broken;
        match self.word.mark_broken(epoch) {
            Some(prior) => {
                assert!(current, "mark_broken({epoch}) succeeded for a stale or already broken writer");
                assert_eq!(prior.epoch(), epoch);
                assert!(!prior.writer_broken());
                st.writer_broken = true;
                st.broken_marks[epoch as usize] += 1;
                assert_eq!(st.broken_marks[epoch as usize], 1, "mark_broken succeeded twice in epoch {epoch}");
                assert!(self.word.load().writer_broken());
            }
            None => assert!(!current, "mark_broken({epoch}) refused for the current, unbroken writer"),
        }
    }

    /// The roller: T1 (waiting-roll), the lock released while it waits, then T5 (the swap).
    fn roll(&self) {
        {
            let _st = self.consumer.lock().unwrap();
            let prior = self.word.set_waiting_roll();
            assert!(!prior.waiting_roll(), "one roll at a time");
            assert!(self.word.load().waiting_roll());
        }
        let mut st = self.consumer.lock().unwrap();
        let before = self.word.load();
        assert!(before.waiting_roll(), "only the roller clears waiting-roll");
        let epoch = self.word.advance_epoch();
        assert_eq!(epoch, before.epoch() + 1);
        st.writer_generation += 1;
        st.writer_broken = false;
        let after = self.word.load();
        assert!(!after.waiting_roll() && !after.writer_broken(), "a swap clears both bits: {after}");
        assert_eq!(after.epoch(), st.writer_generation);
    }
}

/// The roller races one sync runner and `failers` failing syncs.
fn epoch_model(failers: usize, mutant: Mutant) -> impl Fn() + Sync + Send {
    move || {
        let shared = Arc::new(Shared {
            word: EpochAndState::with_mutant(MutantSwitch::new(mutant)),
            consumer: Mutex::new(Consumer {
                synced: 0,
                writer_generation: 0,
                writer_broken: false,
                broken_marks: [0; 2],
            }),
        });
        let runner = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (epoch, generation) = shared.issue();
                shared.complete(epoch, generation);
                generation
            })
        };
        let failers: Vec<_> = (0..failers)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (epoch, generation) = shared.issue();
                    shared.fail(epoch, generation);
                })
            })
            .collect();
        shared.roll();
        runner.join().unwrap();
        for f in failers {
            f.join().unwrap();
        }
        let st = shared.consumer.lock().unwrap();
        assert_eq!(st.writer_generation, 1);
        assert!(st.broken_marks.iter().all(|&n| n <= 1));
        assert!(st.synced == 0 || st.synced == TXID);
    }
}

/// Roll, sync completion and two sync failures race under the consumer mutex: stale completions
/// never advance the watermark, current ones always do, and a writer breaks once per epoch.
#[test]
fn epoch_stale_completion_never_advances_watermark() {
    check("epoch", bound(3, Some(5)), epoch_model(2, Mutant::None));
}

/// Mutant `EpochNoStaleCheck` (completions accepted whatever their epoch), with the roll and
/// one completion only: a completion issued before the roll advances the watermark after it.
#[test]
fn mutant_epoch_no_stale_check_is_caught() {
    expect_panic(
        "epoch-no-stale-check",
        &["STALE COMPLETION accepted: issued at epoch 0 on writer 0; current writer 1 broken=false"],
        epoch_model(0, Mutant::EpochNoStaleCheck),
    );
}

/// Mutant `EpochNoStaleCheck` in the full model: also a completion from a broken writer counts.
#[test]
fn mutant_epoch_no_stale_check_is_caught_with_failures() {
    expect_panic("epoch-no-stale-check-failures", &["STALE COMPLETION"], epoch_model(2, Mutant::EpochNoStaleCheck));
}
