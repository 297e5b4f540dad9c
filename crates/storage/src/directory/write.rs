//! The statements that change the directory, shared by the import and the admin API: one
//! [`Write`] a row (or a link table's rows of one owner), pushed as SQL generic over the
//! backend ([`push_write`]) and run in one transaction ([`SqlStore::write_directory`], or
//! the import's, which reads first).

use sqlx::types::Json;
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, us};

/// One statement that changes the directory.
#[derive(Debug)]
pub(super) enum Write {
    Unit {
        id: Uuid,
        parent: Option<Uuid>,
        kind: &'static str,
        name: String,
        community: Option<Uuid>,
    },
    /// A branch, a partner unit or a post.
    Named {
        table: &'static str,
        id: Uuid,
        community: Uuid,
        name: String,
    },
    /// Drops every link of `owner` (before its links are written anew).
    Unlink {
        links: Links,
        owner: Uuid,
    },
    Link {
        links: Links,
        owner: Uuid,
        item: Uuid,
        community: Uuid,
    },
    Person(Box<PersonWrite>),
    /// What a community's documents name of it, set.
    CommunityDetails {
        community: Uuid,
        person_in_charge: Option<String>,
        phone: Option<String>,
    },
    /// A community's time bank, opened or its caps changed.
    TimeBank {
        community: Uuid,
        daily_cap_minutes: Option<i64>,
        account_cap_minutes: Option<i64>,
        expire_after_days: Option<i64>,
    },
    Team {
        new: bool,
        id: Uuid,
        community: Uuid,
        parent: Option<Uuid>,
        name: String,
        leader: Option<Uuid>,
    },
}

#[derive(Debug, PartialEq)]
pub(super) struct PersonWrite {
    pub(super) new: bool,
    pub(super) id: Uuid,
    pub(super) community: Option<Uuid>,
    pub(super) street: Option<Uuid>,
    pub(super) branch: Option<Uuid>,
    pub(super) name: String,
    pub(super) phone: Option<String>,
    pub(super) roles: String,
    pub(super) home: Option<Uuid>,
    pub(super) skills: Vec<String>,
    pub(super) max_open: i32,
    pub(super) away: Option<i64>,
    pub(super) partner: Option<Uuid>,
    pub(super) active: bool,
}

/// A link table: a branch's area or a team's members.
#[derive(Clone, Copy, Debug)]
pub(super) struct Links {
    table: &'static str,
    owner: &'static str,
    item: &'static str,
}

pub(super) const BRANCH_AREAS: Links = Links {
    table: "branch_areas",
    owner: "branch_id",
    item: "org_unit_id",
};

pub(super) const TEAM_MEMBERS: Links = Links {
    table: "team_members",
    owner: "team_id",
    item: "person_id",
};

impl SqlStore {
    /// Runs `writes` in order in one transaction: all of them or none.
    pub(super) async fn write_directory(&self, writes: &[Write]) -> Result<(), StoreError> {
        let now = us(jiff::Timestamp::now());
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            for write in writes {
                let mut q = QueryBuilder::new("");
                push_write(&mut q, write, now);
                q.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
        });
        Ok(())
    }
}

/// Appends one write's statement; `now` is every new row's `created_at_us`.
pub(super) fn push_write<'a, DB>(q: &mut QueryBuilder<'a, DB>, w: &'a Write, now: i64)
where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    Json<&'a Vec<String>>: Encode<'a, DB> + Type<DB>,
{
    match w {
        Write::Unit {
            id,
            parent,
            kind,
            name,
            community,
        } => {
            q.push("INSERT INTO org_units (id, parent_id, kind, name, community_id, created_at_us) VALUES (");
            let mut v = q.separated(", ");
            v.push_bind(*id)
                .push_bind(*parent)
                .push_bind(*kind)
                .push_bind(name.as_str())
                .push_bind(*community)
                .push_bind(now);
            q.push(")");
        }
        Write::Named {
            table,
            id,
            community,
            name,
        } => {
            q.push(format!(
                "INSERT INTO {table} (id, community_id, name, created_at_us) VALUES ("
            ));
            let mut v = q.separated(", ");
            v.push_bind(*id)
                .push_bind(*community)
                .push_bind(name.as_str())
                .push_bind(now);
            q.push(")");
        }
        Write::Unlink { links, owner } => {
            q.push(format!(
                "DELETE FROM {} WHERE {} = ",
                links.table, links.owner
            ))
            .push_bind(*owner);
        }
        Write::Link {
            links,
            owner,
            item,
            community,
        } => {
            q.push(format!(
                "INSERT INTO {} ({}, {}, community_id) VALUES (",
                links.table, links.owner, links.item
            ));
            let mut v = q.separated(", ");
            v.push_bind(*owner).push_bind(*item).push_bind(*community);
            q.push(")");
        }
        Write::Person(p) => push_person(q, p, now),
        Write::CommunityDetails {
            community,
            person_in_charge,
            phone,
        } => {
            q.push(
                "INSERT INTO community_details (community_id, person_in_charge, phone) VALUES (",
            );
            let mut v = q.separated(", ");
            v.push_bind(*community)
                .push_bind(person_in_charge.as_deref())
                .push_bind(phone.as_deref());
            q.push(
                ") ON CONFLICT (community_id) DO UPDATE SET person_in_charge = excluded.person_in_charge, \
                 phone = excluded.phone",
            );
        }
        Write::TimeBank {
            community,
            daily_cap_minutes,
            account_cap_minutes,
            expire_after_days,
        } => {
            q.push(
                "INSERT INTO time_banks (community_id, daily_cap_minutes, account_cap_minutes, \
                 expire_after_days, created_at_us) VALUES (",
            );
            let mut v = q.separated(", ");
            v.push_bind(*community)
                .push_bind(*daily_cap_minutes)
                .push_bind(*account_cap_minutes)
                .push_bind(*expire_after_days)
                .push_bind(now);
            q.push(
                ") ON CONFLICT (community_id) DO UPDATE SET daily_cap_minutes = excluded.daily_cap_minutes, \
                 account_cap_minutes = excluded.account_cap_minutes, \
                 expire_after_days = excluded.expire_after_days",
            );
        }
        Write::Team {
            new: true,
            id,
            community,
            parent,
            name,
            leader,
        } => {
            q.push("INSERT INTO teams (id, community_id, parent_id, name, leader_id, created_at_us) VALUES (");
            let mut v = q.separated(", ");
            v.push_bind(*id)
                .push_bind(*community)
                .push_bind(*parent)
                .push_bind(name.as_str())
                .push_bind(*leader)
                .push_bind(now);
            q.push(")");
        }
        Write::Team {
            new: false,
            id,
            parent,
            leader,
            ..
        } => {
            q.push("UPDATE teams SET parent_id = ")
                .push_bind(*parent)
                .push(", leader_id = ")
                .push_bind(*leader)
                .push(" WHERE id = ")
                .push_bind(*id);
        }
    }
}

fn push_person<'a, DB>(q: &mut QueryBuilder<'a, DB>, p: &'a PersonWrite, now: i64)
where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Option<&'a str>: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    Json<&'a Vec<String>>: Encode<'a, DB> + Type<DB>,
{
    if p.new {
        q.push(
            "INSERT INTO people (id, community_id, street_id, branch_id, name, phone, roles, \
             home_building_id, skills, max_open, away_until_us, partner_unit_id, active, \
             created_at_us) VALUES (",
        );
        let mut v = q.separated(", ");
        v.push_bind(p.id)
            .push_bind(p.community)
            .push_bind(p.street)
            .push_bind(p.branch)
            .push_bind(p.name.as_str())
            .push_bind(p.phone.as_deref())
            .push_bind(p.roles.as_str())
            .push_bind(p.home)
            .push_bind(Json(&p.skills))
            .push_bind(p.max_open)
            .push_bind(p.away)
            .push_bind(p.partner)
            .push_bind(p.active)
            .push_bind(now);
        q.push(")");
    } else {
        q.push("UPDATE people SET community_id = ")
            .push_bind(p.community)
            .push(", street_id = ")
            .push_bind(p.street)
            .push(", branch_id = ")
            .push_bind(p.branch)
            .push(", phone = ")
            .push_bind(p.phone.as_deref())
            .push(", roles = ")
            .push_bind(p.roles.as_str())
            .push(", home_building_id = ")
            .push_bind(p.home)
            .push(", skills = ")
            .push_bind(Json(&p.skills))
            .push(", max_open = ")
            .push_bind(p.max_open)
            .push(", away_until_us = ")
            .push_bind(p.away)
            .push(", partner_unit_id = ")
            .push_bind(p.partner)
            .push(", active = ")
            .push_bind(p.active)
            .push(" WHERE id = ")
            .push_bind(p.id);
    }
}
