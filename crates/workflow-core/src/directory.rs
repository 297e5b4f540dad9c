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
    partners: Vec<RawPartner>,
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
struct RawPartner {
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

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<FileError>,
}

impl Cx<'_> {
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
}

/// The community part of a path (`street/community`), if the path reaches that deep.
fn community_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    (parts.len() >= 2).then(|| parts[..2].join("/"))
}

/// Parses and validates a directory file. `skills` is the shared vocabulary (the skills the
/// catalog's categories ask for).
pub fn parse(
    file: &str,
    text: &str,
    skills: &BTreeSet<String>,
) -> Result<DirectoryFile, Vec<FileError>> {
    let mut cx = Cx {
        file,
        text,
        errors: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            cx.err(e.span().unwrap_or(0..0), e.message().trim().to_owned());
            return Err(cx.errors);
        }
    };
    // Units: every path, and every prefix of it, is a unit; kinds go by depth.
    let mut units: BTreeSet<String> = BTreeSet::new();
    for u in &raw.units {
        let parts: Vec<&str> = u.get_ref().split('/').map(str::trim).collect();
        if parts.len() > KINDS.len() || parts.iter().any(|p| p.is_empty()) {
            cx.err(
                u.span(),
                format!(
                    "a unit is a path of 1 to 5 non-empty names (street/community/grid/compound/building), not {:?}",
                    u.get_ref()
                ),
            );
            continue;
        }
        for depth in 1..=parts.len() {
            units.insert(parts[..depth].join("/"));
        }
    }
    let depth = |p: &str| p.split('/').count();
    let unit_ref = |cx: &mut Cx, s: &S, want: &[usize], what: &str| -> Option<String> {
        let p = s.get_ref().trim().to_owned();
        if !units.contains(&p) {
            cx.err(s.span(), format!("{what} {p:?} is not among `units`"));
            return None;
        }
        if !want.contains(&depth(&p)) {
            let kinds: Vec<&str> = want.iter().map(|d| KINDS[d - 1]).collect();
            cx.err(
                s.span(),
                format!("{what} {p:?} must be a {}", kinds.join(" or ")),
            );
            return None;
        }
        Some(p)
    };

    let mut out = DirectoryFile {
        units: units.iter().cloned().collect(),
        ..DirectoryFile::default()
    };
    let mut seen: BTreeSet<(String, String, &str)> = BTreeSet::new();
    let mut once = |cx: &mut Cx, community: &str, name: &S, kind: &'static str| {
        if !seen.insert((community.to_owned(), name.get_ref().clone(), kind)) {
            cx.err(
                name.span(),
                format!("{kind} {:?} appears twice in {community}", name.get_ref()),
            );
        }
    };
    for b in &raw.branches {
        let Some(community) = unit_ref(&mut cx, &b.community, &[2], "community") else {
            continue;
        };
        once(&mut cx, &community, &b.name, "branch");
        let mut covers = Vec::new();
        for c in &b.covers {
            if let Some(p) = unit_ref(&mut cx, c, &[3, 4, 5], "area")
                && let Some(()) = (community_of(&p).as_deref() == Some(community.as_str()))
                    .then_some(())
                    .or_else(|| {
                        cx.err(c.span(), format!("area {p:?} is outside {community}"));
                        None
                    })
            {
                covers.push(p);
            }
        }
        out.branches.push(Branch {
            name: b.name.get_ref().trim().to_owned(),
            community,
            covers,
        });
    }
    for p in &raw.partners {
        if let Some(community) = unit_ref(&mut cx, &p.community, &[2], "community") {
            once(&mut cx, &community, &p.name, "partner unit");
            out.partners.push(Partner {
                name: p.name.get_ref().trim().to_owned(),
                community,
            });
        }
    }
    let has = |list: &[(String, String)], community: &str, name: &str| {
        list.iter().any(|(c, n)| c == community && n == name)
    };
    let branch_names: Vec<(String, String)> = out
        .branches
        .iter()
        .map(|b| (b.community.clone(), b.name.clone()))
        .collect();
    let partner_names: Vec<(String, String)> = out
        .partners
        .iter()
        .map(|p| (p.community.clone(), p.name.clone()))
        .collect();
    for p in &raw.people {
        let mut roles = Vec::new();
        for r in &p.roles {
            match Role::parse(r.get_ref()).filter(|r| *r != Role::System) {
                Some(role) => roles.push(role.as_str().to_owned()),
                None => cx.err(
                    r.span(),
                    format!(
                        "unknown role {:?}: resident, secretary, member, community, street or admin",
                        r.get_ref()
                    ),
                ),
            }
        }
        if p.roles.is_empty() {
            cx.err(p.name.span(), "a person needs at least one role");
        }
        let community = p
            .community
            .as_ref()
            .and_then(|c| unit_ref(&mut cx, c, &[2], "community"));
        let street = p
            .street
            .as_ref()
            .and_then(|s| unit_ref(&mut cx, s, &[1], "street"));
        let home_of = community.clone().unwrap_or_default();
        // Identity: the name within the community, or the street (street staff), or among
        // those with neither (administrators).
        let key = community
            .clone()
            .or_else(|| street.clone())
            .unwrap_or_default();
        once(&mut cx, &key, &p.name, "person");
        let home = p.home.as_ref().and_then(|h| {
            let path = unit_ref(&mut cx, h, &[5], "home")?;
            if community_of(&path).as_deref() != Some(home_of.as_str()) {
                cx.err(
                    h.span(),
                    format!("home {path:?} is outside the person's community"),
                );
                return None;
            }
            Some(path)
        });
        let branch = p.branch.as_ref().and_then(|b| {
            if has(&branch_names, &home_of, b.get_ref()) {
                Some(b.get_ref().clone())
            } else {
                cx.err(
                    b.span(),
                    format!("no branch {:?} in the person's community", b.get_ref()),
                );
                None
            }
        });
        let partner = p.partner.as_ref().and_then(|u| {
            if has(&partner_names, &home_of, u.get_ref()) {
                Some(u.get_ref().clone())
            } else {
                cx.err(
                    u.span(),
                    format!(
                        "no partner unit {:?} in the person's community",
                        u.get_ref()
                    ),
                );
                None
            }
        });
        for s in &p.skills {
            if !skills.contains(s.get_ref()) {
                let known: Vec<&str> = skills.iter().map(String::as_str).collect();
                cx.err(
                    s.span(),
                    format!(
                        "unknown skill {:?}: the vocabulary is {}",
                        s.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
        let away_until =
            p.away_until
                .as_ref()
                .and_then(|d| match d.get_ref().parse::<jiff::civil::Date>() {
                    Ok(_) => Some(d.get_ref().clone()),
                    Err(_) => {
                        cx.err(
                            d.span(),
                            format!(
                                "away_until is a date like 2026-12-01, not {:?}",
                                d.get_ref()
                            ),
                        );
                        None
                    }
                });
        out.people.push(Person {
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
        });
    }
    let people_of = |community: &str| -> BTreeSet<String> {
        out.people
            .iter()
            .filter(|p| p.community.as_deref() == Some(community))
            .map(|p| p.name.clone())
            .collect()
    };
    let team_names: Vec<(String, String)> = raw
        .teams
        .iter()
        .map(|t| {
            (
                t.community.get_ref().trim().to_owned(),
                t.name.get_ref().clone(),
            )
        })
        .collect();
    let mut teams = Vec::new();
    for t in &raw.teams {
        let Some(community) = unit_ref(&mut cx, &t.community, &[2], "community") else {
            continue;
        };
        once(&mut cx, &community, &t.name, "team");
        let people = people_of(&community);
        let person = |cx: &mut Cx, n: &S, what: &str| -> Option<String> {
            if people.contains(n.get_ref()) {
                Some(n.get_ref().clone())
            } else {
                cx.err(
                    n.span(),
                    format!("{what} {:?} is not a person of {community}", n.get_ref()),
                );
                None
            }
        };
        let leader = t.leader.as_ref().and_then(|l| person(&mut cx, l, "leader"));
        let members = t
            .members
            .iter()
            .filter_map(|m| person(&mut cx, m, "member"))
            .collect();
        let parent = t.parent.as_ref().and_then(|p| {
            if p.get_ref() != t.name.get_ref() && has(&team_names, &community, p.get_ref()) {
                Some(p.get_ref().clone())
            } else {
                cx.err(
                    p.span(),
                    format!(
                        "parent team {:?} is not another team of {community}",
                        p.get_ref()
                    ),
                );
                None
            }
        });
        teams.push(Team {
            name: t.name.get_ref().trim().to_owned(),
            community,
            parent,
            leader,
            members,
        });
    }
    out.teams = teams;
    if cx.errors.is_empty() {
        Ok(out)
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.col));
        Err(cx.errors)
    }
}

impl DirectoryFile {
    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}
