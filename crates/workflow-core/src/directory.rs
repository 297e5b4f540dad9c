//! The directory as one TOML file: org units as paths, branches and the areas they cover,
//! people, teams, partner units. [`parse`] validates a file, every problem as
//! `file:line:col: message`, references checked within the file; the store imports the
//! result in one transaction and exports the same shape back.
//!
//! Identity is by natural key, so a file can be edited and re-imported: a unit by its path
//! (`运河街道/荷花塘社区/第一网格/荷花小区/1栋`: street, community, grid, compound,
//! building, by depth), a branch, team or partner unit by its name within its community, a
//! person by their name within their community (or street, for street staff). Import adds
//! and updates; it never deletes (set `active = false` to retire someone).

use std::collections::BTreeSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::role::Role;

/// The org tree's levels, by depth of a unit's path.
pub const KINDS: [&str; 5] = ["street", "community", "grid", "compound", "building"];

/// A problem in a directory file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct FileError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

type S = Spanned<String>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    units: Vec<S>,
    #[serde(default)]
    branches: Vec<RawBranch>,
    #[serde(default)]
    partners: Vec<RawNamed>,
    #[serde(default)]
    posts: Vec<RawNamed>,
    #[serde(default)]
    communities: Vec<RawCommunity>,
    #[serde(default)]
    time_banks: Vec<RawTimeBank>,
    #[serde(default)]
    people: Vec<RawPerson>,
    #[serde(default)]
    teams: Vec<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    name: S,
    community: S,
    #[serde(default)]
    covers: Vec<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommunity {
    path: S,
    person_in_charge: Option<S>,
    phone: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeBank {
    community: S,
    daily_cap_hours: Option<Spanned<f64>>,
    account_cap_hours: Option<Spanned<f64>>,
    expire_after_days: Option<Spanned<i64>>,
}

/// A thing named within a community: a partner unit, a post.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    name: S,
    community: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    name: S,
    phone: Option<String>,
    roles: Vec<S>,
    community: Option<S>,
    street: Option<S>,
    branch: Option<S>,
    home: Option<S>,
    #[serde(default)]
    skills: Vec<S>,
    max_open: Option<u32>,
    away_until: Option<S>,
    partner: Option<S>,
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    name: S,
    community: S,
    parent: Option<S>,
    leader: Option<S>,
    #[serde(default)]
    members: Vec<S>,
}

/// A validated directory, references checked within the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryFile {
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<Partner>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub posts: Vec<Post>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<Community>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_banks: Vec<TimeBank>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<Team>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    pub name: String,
    pub community: String,
    pub covers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    pub name: String,
    pub community: String,
}

/// A post (岗位) a community offers the members who report in to it (楼栋长, 和事佬调解员, 助老).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub name: String,
    pub community: String,
}

/// What a community's documents (certificates of service) name of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Community {
    pub path: String,
    /// 负责人: who answers for what the community certifies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_in_charge: Option<String>,
    /// The office's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A community that runs a time bank (时间银行), and its caps (none: no cap).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeBank {
    pub community: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_cap_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_cap_hours: Option<f64>,
    /// Hours unspent this many days after they came in expire; none: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_after_days: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    pub skills: Vec<String>,
    pub max_open: u32,
    /// A civil date, in the deployment's zone: away until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub away_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub community: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    pub members: Vec<String>,
}

/// What a check has found so far: the errors, the units the file names, the names already
/// given within each community.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    skills: &'a BTreeSet<String>,
    errors: Vec<FileError>,
    units: BTreeSet<String>,
    seen: BTreeSet<(String, String, &'static str)>,
}

/// The community part of a path (`street/community`), if the path reaches that deep.
fn community_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    (parts.len() >= 2).then(|| parts[..2].join("/"))
}

/// Whether `(community, name)` is in `list`.
fn has(list: &[(String, String)], community: &str, name: &str) -> bool {
    list.iter().any(|(c, n)| c == community && n == name)
}

/// Parses and validates a directory file. `skills` is the shared vocabulary (the skills the
/// catalog's categories ask for).
pub fn parse(
    file: &str,
    text: &str,
    skills: &BTreeSet<String>,
) -> Result<DirectoryFile, Vec<FileError>> {
    let mut cx = Checker {
        file,
        text,
        skills,
        errors: Vec::new(),
        units: BTreeSet::new(),
        seen: BTreeSet::new(),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            cx.err(e.span().unwrap_or(0..0), e.message().trim().to_owned());
            return Err(cx.errors);
        }
    };
    cx.units(&raw.units);
    let mut out = DirectoryFile {
        units: cx.units.iter().cloned().collect(),
        ..DirectoryFile::default()
    };
    out.branches = raw.branches.iter().filter_map(|b| cx.branch(b)).collect();
    out.partners = raw.partners.iter().filter_map(|p| cx.partner(p)).collect();
    out.posts = raw.posts.iter().filter_map(|p| cx.post(p)).collect();
    out.communities = raw
        .communities
        .iter()
        .filter_map(|c| cx.community(c))
        .collect();
    out.time_banks = raw
        .time_banks
        .iter()
        .filter_map(|b| cx.time_bank(b))
        .collect();
    let branches: Vec<(String, String)> = out
        .branches
        .iter()
        .map(|b| (b.community.clone(), b.name.clone()))
        .collect();
    let partners: Vec<(String, String)> = out
        .partners
        .iter()
        .map(|p| (p.community.clone(), p.name.clone()))
        .collect();
    out.people = raw
        .people
        .iter()
        .map(|p| cx.person(p, &branches, &partners))
        .collect();
    let teams: Vec<(String, String)> = raw
        .teams
        .iter()
        .map(|t| {
            (
                t.community.get_ref().trim().to_owned(),
                t.name.get_ref().clone(),
            )
        })
        .collect();
    out.teams = raw
        .teams
        .iter()
        .filter_map(|t| cx.team(t, &out.people, &teams))
        .collect();
    if cx.errors.is_empty() {
        Ok(out)
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.col));
        Err(cx.errors)
    }
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push(FileError {
            file: self.file.to_owned(),
            line,
            col,
            message: message.into(),
        });
    }

    /// Every path, and every prefix of it, is a unit; kinds go by depth.
    fn units(&mut self, raw: &[S]) {
        for u in raw {
            let parts: Vec<&str> = u.get_ref().split('/').map(str::trim).collect();
            if parts.len() > KINDS.len() || parts.iter().any(|p| p.is_empty()) {
                self.err(
                    u.span(),
                    format!(
                        "a unit is a path of 1 to 5 non-empty names (street/community/grid/compound/building), not {:?}",
                        u.get_ref()
                    ),
                );
                continue;
            }
            for depth in 1..=parts.len() {
                self.units.insert(parts[..depth].join("/"));
            }
        }
    }

    /// A unit the file names, of one of the depths wanted (1: street … 5: building).
    fn unit_ref(&mut self, s: &S, want: &[usize], what: &str) -> Option<String> {
        let p = s.get_ref().trim().to_owned();
        if !self.units.contains(&p) {
            self.err(s.span(), format!("{what} {p:?} is not among `units`"));
            return None;
        }
        if !want.contains(&p.split('/').count()) {
            let kinds: Vec<&str> = want.iter().map(|d| KINDS[d - 1]).collect();
            self.err(
                s.span(),
                format!("{what} {p:?} must be a {}", kinds.join(" or ")),
            );
            return None;
        }
        Some(p)
    }

    /// A name given once within its community (or street) for each kind of thing.
    fn once(&mut self, community: &str, name: &S, kind: &'static str) {
        if !self
            .seen
            .insert((community.to_owned(), name.get_ref().clone(), kind))
        {
            self.err(
                name.span(),
                format!("{kind} {:?} appears twice in {community}", name.get_ref()),
            );
        }
    }

    fn branch(&mut self, b: &RawBranch) -> Option<Branch> {
        let community = self.unit_ref(&b.community, &[2], "community")?;
        self.once(&community, &b.name, "branch");
        let mut covers = Vec::new();
        for c in &b.covers {
            let Some(p) = self.unit_ref(c, &[3, 4, 5], "area") else {
                continue;
            };
            if community_of(&p).as_deref() == Some(community.as_str()) {
                covers.push(p);
            } else {
                self.err(c.span(), format!("area {p:?} is outside {community}"));
            }
        }
        Some(Branch {
            name: b.name.get_ref().trim().to_owned(),
            community,
            covers,
        })
    }

    fn partner(&mut self, p: &RawNamed) -> Option<Partner> {
        let (name, community) = self.named(p, "partner unit")?;
        Some(Partner { name, community })
    }

    fn post(&mut self, p: &RawNamed) -> Option<Post> {
        let (name, community) = self.named(p, "post")?;
        Some(Post { name, community })
    }

    fn community(&mut self, c: &RawCommunity) -> Option<Community> {
        let path = self.unit_ref(&c.path, &[2], "community")?;
        self.once(&path, &c.path, "community entry");
        let mut short = |s: &Option<S>, what: &str| {
            let s = s.as_ref()?;
            let text = s.get_ref().trim();
            if text.is_empty() || text.chars().count() > 100 {
                self.err(s.span(), format!("{what} is 1 to 100 characters"));
                return None;
            }
            Some(text.to_owned())
        };
        Some(Community {
            person_in_charge: short(&c.person_in_charge, "person_in_charge"),
            phone: short(&c.phone, "phone"),
            path,
        })
    }

    fn time_bank(&mut self, b: &RawTimeBank) -> Option<TimeBank> {
        let community = self.unit_ref(&b.community, &[2], "community")?;
        self.once(&community, &b.community, "time bank");
        let mut cap = |c: &Option<Spanned<f64>>| {
            let c = c.as_ref()?;
            let hours = *c.get_ref();
            if !(hours > 0.0 && hours <= 100_000.0) {
                self.err(c.span(), "a cap is a number of hours above zero".to_owned());
                return None;
            }
            Some(hours)
        };
        let daily_cap_hours = cap(&b.daily_cap_hours);
        let account_cap_hours = cap(&b.account_cap_hours);
        let expire_after_days = match &b.expire_after_days {
            Some(d) if !(1..=36_500).contains(d.get_ref()) => {
                self.err(d.span(), "expire_after_days is 1 to 36500".to_owned());
                None
            }
            d => d.as_ref().map(|d| *d.get_ref()),
        };
        Some(TimeBank {
            daily_cap_hours,
            account_cap_hours,
            expire_after_days,
            community,
        })
    }

    /// A thing named once within its community: its name and the community's path.
    fn named(&mut self, p: &RawNamed, what: &'static str) -> Option<(String, String)> {
        let community = self.unit_ref(&p.community, &[2], "community")?;
        self.once(&community, &p.name, what);
        Some((p.name.get_ref().trim().to_owned(), community))
    }

    /// A named thing of the person's community (`branches` or `partners`: `what` says which).
    fn of_community(
        &mut self,
        list: &[(String, String)],
        community: &str,
        name: &S,
        what: &str,
    ) -> Option<String> {
        if has(list, community, name.get_ref()) {
            return Some(name.get_ref().clone());
        }
        self.err(
            name.span(),
            format!("no {what} {:?} in the person's community", name.get_ref()),
        );
        None
    }

    fn person(
        &mut self,
        p: &RawPerson,
        branches: &[(String, String)],
        partners: &[(String, String)],
    ) -> Person {
        let roles = self.roles(p);
        let community = p
            .community
            .as_ref()
            .and_then(|c| self.unit_ref(c, &[2], "community"));
        let street = p
            .street
            .as_ref()
            .and_then(|s| self.unit_ref(s, &[1], "street"));
        let home_of = community.clone().unwrap_or_default();
        // Identity: the name within the community, or the street (street staff), or among
        // those with neither (administrators).
        let key = community
            .clone()
            .or_else(|| street.clone())
            .unwrap_or_default();
        self.once(&key, &p.name, "person");
        let home = p.home.as_ref().and_then(|h| {
            let path = self.unit_ref(h, &[5], "home")?;
            if community_of(&path).as_deref() == Some(home_of.as_str()) {
                return Some(path);
            }
            self.err(
                h.span(),
                format!("home {path:?} is outside the person's community"),
            );
            None
        });
        let branch = p
            .branch
            .as_ref()
            .and_then(|b| self.of_community(branches, &home_of, b, "branch"));
        let partner = p
            .partner
            .as_ref()
            .and_then(|u| self.of_community(partners, &home_of, u, "partner unit"));
        self.skills(&p.skills);
        let away_until = p.away_until.as_ref().and_then(|d| {
            if d.get_ref().parse::<jiff::civil::Date>().is_ok() {
                return Some(d.get_ref().clone());
            }
            self.err(
                d.span(),
                format!(
                    "away_until is a date like 2026-12-01, not {:?}",
                    d.get_ref()
                ),
            );
            None
        });
        Person {
            name: p.name.get_ref().trim().to_owned(),
            phone: p.phone.clone(),
            roles,
            community,
            street,
            branch,
            home,
            skills: p.skills.iter().map(|s| s.get_ref().clone()).collect(),
            max_open: p.max_open.unwrap_or(5),
            away_until,
            partner,
            active: p.active.unwrap_or(true),
        }
    }

    fn roles(&mut self, p: &RawPerson) -> Vec<String> {
        if p.roles.is_empty() {
            self.err(p.name.span(), "a person needs at least one role");
        }
        let mut roles = Vec::new();
        for r in &p.roles {
            match Role::parse(r.get_ref()).filter(|r| *r != Role::System) {
                Some(role) => roles.push(role.as_str().to_owned()),
                None => self.err(
                    r.span(),
                    format!(
                        "unknown role {:?}: {}",
                        r.get_ref(),
                        Role::PEOPLES.join(", ")
                    ),
                ),
            }
        }
        roles
    }

    fn skills(&mut self, skills: &[S]) {
        for s in skills {
            if !self.skills.contains(s.get_ref()) {
                let known: Vec<&str> = self.skills.iter().map(String::as_str).collect();
                let message = format!(
                    "unknown skill {:?}: the vocabulary is {}",
                    s.get_ref(),
                    known.join(", ")
                );
                self.err(s.span(), message);
            }
        }
    }

    fn team(&mut self, t: &RawTeam, people: &[Person], teams: &[(String, String)]) -> Option<Team> {
        let community = self.unit_ref(&t.community, &[2], "community")?;
        self.once(&community, &t.name, "team");
        let of_community: BTreeSet<&str> = people
            .iter()
            .filter(|p| p.community.as_deref() == Some(community.as_str()))
            .map(|p| p.name.as_str())
            .collect();
        let person = |cx: &mut Self, n: &S, what: &str| -> Option<String> {
            if of_community.contains(n.get_ref().as_str()) {
                return Some(n.get_ref().clone());
            }
            cx.err(
                n.span(),
                format!("{what} {:?} is not a person of {community}", n.get_ref()),
            );
            None
        };
        let leader = t.leader.as_ref().and_then(|l| person(self, l, "leader"));
        let members = t
            .members
            .iter()
            .filter_map(|m| person(self, m, "member"))
            .collect();
        let parent = t.parent.as_ref().and_then(|p| {
            if p.get_ref() != t.name.get_ref() && has(teams, &community, p.get_ref()) {
                return Some(p.get_ref().clone());
            }
            self.err(
                p.span(),
                format!(
                    "parent team {:?} is not another team of {community}",
                    p.get_ref()
                ),
            );
            None
        });
        Some(Team {
            name: t.name.get_ref().trim().to_owned(),
            community,
            parent,
            leader,
            members,
        })
    }
}

impl DirectoryFile {
    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}
