//! The people of a community as the simulation casts them: its residents, each branch's
//! secretary, its members by branch and skill, its teams, read back from the database after
//! the street's import, as the access rules see them when they sign in.

use std::collections::HashMap;

use storage::SqlStore;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::access::Principal;

use super::rng::Rng;

/// The people of one community, as the access rules see them.
pub struct Cast {
    pub residents: Vec<Principal>,
    pub secretaries: HashMap<Uuid, Principal>,
    pub people: HashMap<Uuid, Principal>,
    /// Members by branch and skill, by skill, and by branch.
    skilled_in_branch: HashMap<(Uuid, String), Vec<Uuid>>,
    skilled: HashMap<String, Vec<Uuid>>,
    in_branch: HashMap<Uuid, Vec<Uuid>>,
    /// Teams with members, and their members.
    pub teams: Vec<(Uuid, Vec<Uuid>)>,
}

impl Cast {
    /// `skills`: each member's, by name, as the directory file gave them.
    pub async fn load(
        store: &SqlStore,
        community: Uuid,
        skills: &HashMap<String, Vec<String>>,
    ) -> anyhow::Result<Cast> {
        let everyone = store.principals_of(community).await?;
        let mut cast = Cast {
            residents: Vec::new(),
            secretaries: HashMap::new(),
            people: HashMap::new(),
            skilled_in_branch: HashMap::new(),
            skilled: HashMap::new(),
            in_branch: HashMap::new(),
            teams: Vec::new(),
        };
        let mut teams: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for p in everyone {
            let has = |r: Role| p.roles.contains(&r);
            if has(Role::Resident) {
                cast.residents.push(p.clone());
            }
            if let (true, Some(b)) = (has(Role::Secretary), p.branch_id) {
                cast.secretaries.insert(b, p.clone());
            }
            if has(Role::Member) {
                let branch = p.branch_id.unwrap_or_default();
                cast.in_branch.entry(branch).or_default().push(p.id);
                for skill in skills.get(&p.name).into_iter().flatten() {
                    cast.skilled_in_branch
                        .entry((branch, skill.clone()))
                        .or_default()
                        .push(p.id);
                    cast.skilled.entry(skill.clone()).or_default().push(p.id);
                }
                for t in &p.teams {
                    teams.entry(*t).or_default().push(p.id);
                }
            }
            cast.people.insert(p.id, p);
        }
        cast.teams = teams.into_iter().filter(|(_, m)| !m.is_empty()).collect();
        cast.teams.sort();
        anyhow::ensure!(
            !cast.residents.is_empty(),
            "community {community} has no residents"
        );
        Ok(cast)
    }

    /// Who the secretary sends: a member of her branch with the skill, else of the
    /// community, else anyone of her branch; never the one who just gave it back.
    pub fn volunteer(
        &self,
        rng: &mut Rng,
        branch: Uuid,
        skill: &str,
        not: Option<Uuid>,
    ) -> Option<Uuid> {
        let empty = Vec::new();
        let lists = [
            self.skilled_in_branch.get(&(branch, skill.to_owned())),
            self.skilled.get(skill),
            self.in_branch.get(&branch),
        ];
        for list in lists.into_iter().map(|l| l.unwrap_or(&empty)) {
            let choices: Vec<Uuid> = list.iter().copied().filter(|p| Some(*p) != not).collect();
            if let Some(p) = rng.pick(&choices) {
                return Some(*p);
            }
        }
        None
    }
}
