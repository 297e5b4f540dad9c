//! Directory answers remembered for a few seconds: who a token belongs to, the names and
//! phone numbers an answer about a request shows, a person as the Engine checks them, where a
//! building is. Every API request starts by authenticating its token, every answer about a
//! request names its requester and holder, every submission locates its building and every
//! dispatch checks its assignee; without this each costs reads beside its real work. The
//! directory writes of this process that can change a remembered answer (revoking tokens,
//! teams, a branch's areas, an imported directory) forget everything at once; a change made
//! by another process (another node, `linli admin` on the command line) is seen within
//! [`REMEMBERED_FOR`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;
use workflow_core::store::{Location, PersonRef};

use workflow_core::access::Principal;

/// How long an answer is trusted without asking the database again.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(5);
/// Answers remembered at most; past that the cache starts over (a flood of valid tokens or
/// of requests cannot grow it without bound).
const CAPACITY: usize = 10_000;

/// What this process remembers of the directory.
#[derive(Debug, Default)]
pub(crate) struct DirectoryMemory {
    /// A token's hash (the token itself is never kept) → the person it authenticates, and
    /// until when (by the service's clock) it is taken: a session that ends meanwhile is
    /// read again, and refused.
    pub principals: Remembered<
        Vec<u8>,
        (
            Principal,
            workflow_core::session::TokenKind,
            Option<jiff::Timestamp>,
        ),
    >,
    /// A person's or a team's id → (name, phone): what answers about requests show.
    pub contacts: Remembered<Uuid, (String, Option<String>)>,
    /// A person as the Engine checks them (a dispatch's assignee, a proxy and their resident).
    pub people: Remembered<Uuid, PersonRef>,
    /// A building → the branch and community that own requests from it (every submission).
    pub locations: Remembered<Uuid, Location>,
}

impl DirectoryMemory {
    /// After a directory write: no answer is trusted any more.
    pub(crate) fn forget_all(&self) {
        self.principals.forget_all();
        self.contacts.forget_all();
        self.people.forget_all();
        self.locations.forget_all();
    }
}

#[derive(Debug)]
pub(crate) struct Remembered<K, V> {
    entries: Mutex<Entries<K, V>>,
}

#[derive(Debug)]
struct Entries<K, V> {
    by_key: HashMap<K, (Instant, V)>,
    /// Counts the forgettings: an answer read from the database before one is not kept.
    generation: u64,
}

impl<K, V> Default for Remembered<K, V> {
    fn default() -> Self {
        Remembered {
            entries: Mutex::new(Entries {
                by_key: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Remembered<K, V> {
    /// The remembered answer, or the generation to hand [`Remembered::remember`] with the
    /// answer about to be read.
    pub(crate) fn get(&self, key: &K) -> Result<V, u64> {
        let entries = self.entries.lock().expect("never poisoned");
        entries
            .by_key
            .get(key)
            .filter(|(at, _)| at.elapsed() < REMEMBERED_FOR)
            .map(|(_, v)| v.clone())
            .ok_or(entries.generation)
    }

    /// The generation an answer about to be read belongs to.
    pub(crate) fn generation(&self) -> u64 {
        self.entries.lock().expect("never poisoned").generation
    }

    /// Keeps answers read in `generation`, unless a directory write came in between (a token
    /// revoked while its answer was being read must not be remembered as valid).
    pub(crate) fn remember(&self, answers: impl IntoIterator<Item = (K, V)>, generation: u64) {
        let mut entries = self.entries.lock().expect("never poisoned");
        if entries.generation != generation {
            return;
        }
        let now = Instant::now();
        for (key, value) in answers {
            if entries.by_key.len() >= CAPACITY {
                entries.by_key.clear();
            }
            entries.by_key.insert(key, (now, value));
        }
    }

    /// After a directory write: no answer is trusted any more.
    pub(crate) fn forget_all(&self) {
        let mut entries = self.entries.lock().expect("never poisoned");
        entries.by_key.clear();
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
        let cache = Remembered::<Vec<u8>, Principal>::default();
        let generation = cache.get(&b"h".to_vec()).unwrap_err();
        cache.forget_all(); // a revocation lands while the answer is being read
        cache.remember([(b"h".to_vec(), someone())], generation);
        assert!(cache.get(&b"h".to_vec()).is_err());
    }

    #[test]
    fn an_answer_is_kept_until_forgotten() {
        let cache = Remembered::<Vec<u8>, Principal>::default();
        let p = someone();
        let generation = cache.get(&b"h".to_vec()).unwrap_err();
        cache.remember([(b"h".to_vec(), p.clone())], generation);
        assert_eq!(cache.get(&b"h".to_vec()).unwrap(), p);
        cache.forget_all();
        assert!(cache.get(&b"h".to_vec()).is_err());
    }
}
