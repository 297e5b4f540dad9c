//! Who a token belongs to, remembered for a few seconds. Every API request starts by
//! authenticating its token; without this each one costs two reads (the token with its
//! person, then their teams) before its real work. The directory writes of this process that
//! can change a known person's answer (revoking tokens, teams, an imported directory) forget
//! everything at once; a change made by another process (another node, `linli admin` on the
//! command line) is seen within [`REMEMBERED_FOR`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Principal;

/// How long a token's answer is trusted without asking the database again.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(5);
/// Tokens remembered at most; past that the cache starts over (a flood of valid tokens
/// cannot grow it without bound).
const CAPACITY: usize = 10_000;

#[derive(Default, Debug)]
pub(crate) struct PrincipalCache {
    entries: Mutex<Entries>,
}

#[derive(Default, Debug)]
struct Entries {
    /// By the token's hash (the token itself is never kept).
    by_hash: HashMap<Vec<u8>, (Instant, Principal)>,
    /// Counts the forgettings: an answer read from the database before one is not kept.
    generation: u64,
}

impl PrincipalCache {
    /// The remembered answer, or the generation to hand [`PrincipalCache::remember`] with
    /// the answer about to be read.
    pub(crate) fn get(&self, token_hash: &[u8]) -> Result<Principal, u64> {
        let entries = self.entries.lock().expect("never poisoned");
        entries
            .by_hash
            .get(token_hash)
            .filter(|(at, _)| at.elapsed() < REMEMBERED_FOR)
            .map(|(_, p)| p.clone())
            .ok_or(entries.generation)
    }

    /// Keeps an answer read in `generation`, unless a directory write came in between (a
    /// token revoked while its answer was being read must not be remembered as valid).
    pub(crate) fn remember(&self, token_hash: Vec<u8>, principal: Principal, generation: u64) {
        let mut entries = self.entries.lock().expect("never poisoned");
        if entries.generation != generation {
            return;
        }
        if entries.by_hash.len() >= CAPACITY {
            entries.by_hash.clear();
        }
        entries
            .by_hash
            .insert(token_hash, (Instant::now(), principal));
    }

    /// After a directory write: nobody's answer is trusted any more.
    pub(crate) fn forget_all(&self) {
        let mut entries = self.entries.lock().expect("never poisoned");
        entries.by_hash.clear();
        entries.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone() -> Principal {
        Principal {
            id: uuid::Uuid::now_v7(),
            name: "王师傅".into(),
            roles: vec![],
            community_id: None,
            street_id: None,
            branch_id: None,
            home_building_id: None,
            teams: vec![],
        }
    }

    #[test]
    fn an_answer_read_before_a_forgetting_is_not_kept() {
        let cache = PrincipalCache::default();
        let generation = cache.get(b"h").unwrap_err();
        cache.forget_all(); // a revocation lands while the answer is being read
        cache.remember(b"h".to_vec(), someone(), generation);
        assert!(cache.get(b"h").is_err());
    }

    #[test]
    fn an_answer_is_kept_until_forgotten() {
        let cache = PrincipalCache::default();
        let p = someone();
        let generation = cache.get(b"h").unwrap_err();
        cache.remember(b"h".to_vec(), p.clone(), generation);
        assert_eq!(cache.get(b"h").unwrap(), p);
        cache.forget_all();
        assert!(cache.get(b"h").is_err());
    }
}
