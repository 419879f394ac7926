//! This server's copies of each program's earnings per day (T4), which custom-range top
//! earners catch up and read. One lock per program, so a slow catch-up for one program holds up
//! no other program's dashboard; all copies together stay within a byte budget, the least
//! recently used dropped first (a dropped copy is built again from the stored days when next
//! asked for: slower, never wrong).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::ledger::totals::DayEarnings;

/// 256 MiB unless the operator says otherwise (`--report-cache-mb`).
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

pub(super) type Copy = Arc<tokio::sync::Mutex<DayEarnings>>;

pub(super) struct DayEarningsCache {
    state: Mutex<Copies>,
}

struct Copies {
    budget: usize,
    /// Counts uses: a copy's last use orders eviction.
    clock: u64,
    by_program: HashMap<String, Slot>,
}

struct Slot {
    copy: Copy,
    bytes: usize,
    used: u64,
}

impl Default for DayEarningsCache {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET_BYTES)
    }
}

impl DayEarningsCache {
    pub(super) fn with_budget(budget: usize) -> Self {
        Self { state: Mutex::new(Copies { budget, clock: 0, by_program: HashMap::new() }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn set_budget(&self, budget: usize) {
        let mut state = self.state();
        state.budget = budget;
        state.evict(None);
    }

    /// The program's copy (a new, empty one if it had none), to lock while catching it up. The
    /// map's own lock is held only to find it.
    pub(super) fn copy_of(&self, program_id: &str) -> Copy {
        let mut state = self.state();
        state.clock += 1;
        let used = state.clock;
        let slot = state.by_program.entry(program_id.to_owned()).or_insert_with(|| Slot {
            copy: Copy::default(),
            bytes: 0,
            used,
        });
        slot.used = used;
        slot.copy.clone()
    }

    /// Records the size of the program's copy after a catch-up and drops the least recently
    /// used copies of other programs while all of them exceed the budget; a copy larger than
    /// the whole budget is not kept either.
    pub(super) fn settle(&self, program_id: &str, bytes: usize) {
        let mut state = self.state();
        if bytes > state.budget {
            // Kept, it would push out everything else and still not fit.
            state.by_program.remove(program_id);
            return;
        }
        if let Some(slot) = state.by_program.get_mut(program_id) {
            slot.bytes = bytes;
        }
        state.evict(Some(program_id));
    }

    /// What the kept copies hold, by their estimate.
    pub(super) fn bytes(&self) -> usize {
        self.state().by_program.values().map(|slot| slot.bytes).sum()
    }
}

impl Copies {
    fn evict(&mut self, keep: Option<&str>) {
        while self.by_program.values().map(|slot| slot.bytes).sum::<usize>() > self.budget {
            let oldest = self
                .by_program
                .iter()
                .filter(|(program, _)| Some(program.as_str()) != keep)
                .min_by_key(|(_, slot)| slot.used)
                .map(|(program, _)| program.clone());
            match oldest {
                Some(program) => self.by_program.remove(&program),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_programs_catch_up_does_not_hold_up_another() {
        let cache = DayEarningsCache::default();
        let slow = cache.copy_of("prg_big");
        let _held = slow.lock().await; // a long catch-up of prg_big, in progress
        let other = cache.copy_of("prg_small");
        let got = tokio::time::timeout(std::time::Duration::from_millis(100), other.lock()).await;
        assert!(got.is_ok(), "another program's copy is free while prg_big's is held");
        assert!(cache.copy_of("prg_big").try_lock().is_err(), "the same program's readers wait for the catch-up");
    }

    #[test]
    fn copies_stay_within_the_budget_least_recently_used_first() {
        let cache = DayEarningsCache::with_budget(1_000);
        for program in ["a", "b", "c"] {
            cache.copy_of(program);
            cache.settle(program, 400);
        }
        let kept = |cache: &DayEarningsCache| {
            let mut kept: Vec<String> = cache.state().by_program.keys().cloned().collect();
            kept.sort();
            kept
        };
        assert_eq!(kept(&cache), ["b", "c"], "a was the least recently used");
        assert_eq!(cache.bytes(), 800);
        cache.copy_of("b");
        cache.copy_of("d");
        cache.settle("d", 400);
        assert_eq!(kept(&cache), ["b", "d"], "b was used again, c was not");
        cache.copy_of("huge");
        cache.settle("huge", 5_000);
        assert_eq!(kept(&cache), ["b", "d"], "a copy over the whole budget is not kept, and pushes nothing out");
        cache.set_budget(500);
        assert_eq!(kept(&cache).len(), 1);
    }
}
