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
    /// By the token's hash (the token itself is never kept).
    entries: Mutex<HashMap<Vec<u8>, (Instant, Principal)>>,
}

impl PrincipalCache {
    pub(crate) fn get(&self, token_hash: &[u8]) -> Option<Principal> {
        let entries = self.entries.lock().expect("never poisoned");
        entries
            .get(token_hash)
            .filter(|(at, _)| at.elapsed() < REMEMBERED_FOR)
            .map(|(_, p)| p.clone())
    }

    pub(crate) fn remember(&self, token_hash: Vec<u8>, principal: Principal) {
        let mut entries = self.entries.lock().expect("never poisoned");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(token_hash, (Instant::now(), principal));
    }

    /// After a directory write: nobody's answer is trusted any more.
    pub(crate) fn forget_all(&self) {
        self.entries.lock().expect("never poisoned").clear();
    }
}
