//! The simulated street as a directory file, imported as an office would import its own:
//! communities, grids, compounds, buildings, branches, households, party members with their
//! skills, teams. The proportions are the seeds' (`../shared/seeds`, the newspaper articles
//! the project comes from), each where it is used.

use workflow_core::directory::{Branch, Community, DirectoryFile, Person, Team};

use super::rng::Rng;

pub const STREET: &str = "泉塘街道";

/// Community names, from the seeds' communities (荷花塘, 运河, 景园, 城南, 星港, 景星 …);
/// past the list, numbered.
const NAMES: [&str; 12] = [
    "荷花塘",
    "运河",
    "景园",
    "城南",
    "星港",
    "景星",
    "锦绣",
    "高林",
    "圣力",
    "中茂",
    "苹果",
    "风华",
];

/// Grids per community: a grid (网格) of about 500 households, as city grids are drawn.
const GRIDS: usize = 6;
/// Compounds (小区) per grid: 泉塘街道 has 65 compounds in 20 communities, about 3 each; the
/// simulated communities are the larger 运河 kind (2,609 households) with two a grid.
const COMPOUNDS_PER_GRID: usize = 2;
/// Households per building: 运河小区 has 630 households in 15 buildings.
const HOUSEHOLDS_PER_BUILDING: usize = 42;
/// Party members who volunteer, per 3,000 households: 运河社区 has "200余名党员" in its
/// volunteer teams for 2,609 households.
const MEMBERS_PER_3000: usize = 200;
/// Volunteer teams per community: 运河社区 has 8 (夕阳红, 文化, 环保, 义务巡防 …).
const TEAMS: [&str; 8] = [
    "夕阳红服务队",
    "巾帼志愿服务队",
    "环保服务队",
    "义务巡防队",
    "便民维修队",
    "健康服务队",
    "法律服务队",
    "微孝代办队",
];
/// The skills a member may have, and how common each is among members (the categories the
/// simulated requests come in).
pub const SKILLS: [(&str, f64); 6] = [
    ("elderly_care", 0.30),
    ("repair", 0.25),
    ("sanitation", 0.15),
    ("errand", 0.15),
    ("medical", 0.10),
    ("legal", 0.05),
];

/// What the simulation needs to know of a community beyond the database's ids.
pub struct Plan {
    pub communities: Vec<String>,
    pub file: DirectoryFile,
}

pub fn community_name(i: usize) -> String {
    match NAMES.get(i) {
        Some(n) => format!("{n}社区"),
        None => format!("第{}社区", i + 1),
    }
}

fn numeral(n: usize) -> &'static str {
    ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
        .get(n)
        .copied()
        .unwrap_or("十")
}

/// A street of `communities` communities of `households` households each.
pub fn plan(communities: usize, households: usize, seed: u64) -> Plan {
    let mut file = DirectoryFile {
        units: vec![STREET.to_owned()],
        ..DirectoryFile::default()
    };
    let mut names = Vec::new();
    for c in 0..communities {
        let mut rng = Rng::split(seed ^ 0x5EED_D1EC, c as u64);
        let community = format!("{STREET}/{}", community_name(c));
        names.push(community.clone());
        file.units.push(community.clone());
        file.communities.push(Community {
            path: community.clone(),
            person_in_charge: Some(format!("{}书记", community_name(c))),
            phone: None,
        });
        file.people.push(staff(&community, "社区办", "community"));
        let compounds = GRIDS * COMPOUNDS_PER_GRID;
        let buildings = households.div_ceil(HOUSEHOLDS_PER_BUILDING).max(compounds);
        let mut homes = Vec::new();
        let mut branches = Vec::new();
        for g in 0..GRIDS {
            let grid = format!("{community}/第{}网格", numeral(g));
            file.units.push(grid.clone());
            for k in 0..COMPOUNDS_PER_GRID {
                let index = g * COMPOUNDS_PER_GRID + k;
                let compound = format!("{grid}/{}小区", index + 1);
                file.units.push(compound.clone());
                let branch = format!("{}小区党支部", index + 1);
                file.branches.push(Branch {
                    name: branch.clone(),
                    community: community.clone(),
                    covers: vec![compound.clone()],
                });
                file.people.push(Person {
                    branch: Some(branch.clone()),
                    home: None,
                    ..staff(&community, &format!("{}小区支书", index + 1), "secretary")
                });
                let mine = (index..buildings).step_by(compounds).count();
                let mut here = Vec::new();
                for b in 0..mine {
                    let building = format!("{compound}/{}栋", b + 1);
                    file.units.push(building.clone());
                    here.push(building);
                }
                branches.push((branch, here.clone()));
                homes.extend(here);
            }
        }
        for h in 0..households {
            let home = &homes[h % homes.len()];
            file.people.push(Person {
                name: format!("居民{:05}", h + 1),
                phone: None,
                roles: vec!["resident".into()],
                community: Some(community.clone()),
                street: None,
                branch: None,
                home: Some(home.clone()),
                skills: vec![],
                max_open: 0,
                away_until: None,
                partner: None,
                active: true,
            });
        }
        let members = (households * MEMBERS_PER_3000)
            .div_ceil(3000)
            .max(branches.len());
        let weights: Vec<f64> = SKILLS.iter().map(|(_, w)| *w).collect();
        let mut team_members: Vec<Vec<String>> = vec![Vec::new(); TEAMS.len()];
        for m in 0..members {
            let (branch, homes) = &branches[m % branches.len()];
            // Every branch has each skill once before any twice; a second skill by how
            // common it is.
            let first = SKILLS[(m / branches.len()) % SKILLS.len()].0;
            let second = SKILLS[rng.weighted(&weights)].0;
            let mut skills = vec![first.to_owned()];
            if second != first && rng.chance(0.5) {
                skills.push(second.to_owned());
            }
            let name = format!("党员{:04}", m + 1);
            // 城南社区: four teams of 100 volunteers; about one member in two is on a team.
            if rng.chance(0.5) {
                team_members[rng.below(TEAMS.len())].push(name.clone());
            }
            file.people.push(Person {
                name,
                phone: None,
                roles: vec!["member".into()],
                community: Some(community.clone()),
                street: None,
                branch: Some(branch.clone()),
                home: Some(homes[m % homes.len()].clone()),
                skills,
                max_open: 20,
                away_until: None,
                partner: None,
                active: true,
            });
        }
        for (team, members) in TEAMS.iter().zip(team_members) {
            file.teams.push(Team {
                name: (*team).to_owned(),
                community: community.clone(),
                parent: None,
                leader: members.first().cloned(),
                members,
            });
        }
    }
    file.people.push(Person {
        community: None,
        street: Some(STREET.to_owned()),
        ..staff(STREET, "街道办", "street")
    });
    Plan {
        communities: names,
        file,
    }
}

fn staff(community: &str, name: &str, role: &str) -> Person {
    Person {
        name: name.to_owned(),
        phone: None,
        roles: vec![role.to_owned()],
        community: Some(community.to_owned()),
        street: None,
        branch: None,
        home: None,
        skills: vec![],
        max_open: 0,
        away_until: None,
        partner: None,
        active: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_street_has_the_seeds_proportions_and_parses_back() {
        let plan = plan(2, 3000, 1);
        let residents = plan
            .file
            .people
            .iter()
            .filter(|p| p.roles == ["resident"])
            .count();
        let members = plan
            .file
            .people
            .iter()
            .filter(|p| p.roles == ["member"])
            .count();
        assert_eq!(residents, 6000);
        assert_eq!(members, 400);
        assert_eq!(plan.file.branches.len(), 24);
        // Every branch has a member of every skill.
        for b in &plan.file.branches {
            for (skill, _) in SKILLS {
                assert!(
                    plan.file
                        .people
                        .iter()
                        .any(|p| p.branch.as_deref() == Some(&b.name)
                            && p.community.as_deref() == Some(&b.community)
                            && p.skills.iter().any(|s| s == skill)),
                    "{} has no {skill}",
                    b.name
                );
            }
        }
        // What the import would read from a file: the checks of a file pass.
        let text = toml::to_string(&plan.file).unwrap();
        let skills = SKILLS.iter().map(|(s, _)| s.to_string()).collect();
        workflow_core::directory::parse("street.toml", &text, &skills).unwrap();
    }
}
