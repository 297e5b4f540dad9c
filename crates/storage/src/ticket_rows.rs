//! A ticket as its row holds it: the columns the queries filter on hold the ticket's
//! identity and place (its id, workflow, category, urgency, state, requester, community,
//! branch, building, version, whether it ended, whether it stands on the wall, who entered
//! it), exactly; the body holds the rest, as JSON. Older bodies repeated the columns (about
//! 390 of a ticket's ~1,000 bytes, rewritten with each of its seven transitions and written
//! each time to the database's log); reading one ignores them and takes the columns.
//!
//! A ticket's update writes the columns a transition can change (state, urgency, holder,
//! version, workflow version, the yes/no flags); the others (workflow, category, requester,
//! community, branch, building, proxy) are written once, by the submission, because no event
//! changes them. An event that one day does must have its update write that column too: the
//! row is read from it.
//!
//! The times stay in the body: the `_us` columns keep microseconds, and a ticket read back
//! must be the very ticket its decision wrote (and that its events replay to).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::store::StoreError;
use workflow_core::ticket::{Assignee, ClockState, CoHandler, FollowUp, PendingExtension};
use workflow_core::{Ticket, Urgency};

use crate::json_text::JsonText;

/// The columns a ticket is read from, in the order of [`TicketRow`]'s fields.
pub(crate) const COLUMNS: &str = "id, community_id, branch_id, building_id, workflow_id, \
    workflow_version, category, urgency, state, requester_id, version, terminal, on_wall, \
    proxy_id, body";

/// The same, each named after the table's alias `t`.
pub(crate) const T_COLUMNS: &str = "t.id, t.community_id, t.branch_id, t.building_id, \
    t.workflow_id, t.workflow_version, t.category, t.urgency, t.state, t.requester_id, \
    t.version, t.terminal, t.on_wall, t.proxy_id, t.body";

/// A ticket's row as read.
#[derive(sqlx::FromRow)]
pub(crate) struct TicketRow {
    id: Uuid,
    community_id: Uuid,
    branch_id: Uuid,
    building_id: Option<Uuid>,
    workflow_id: String,
    workflow_version: i32,
    category: String,
    urgency: String,
    state: String,
    requester_id: Uuid,
    version: i64,
    terminal: bool,
    on_wall: bool,
    proxy_id: Option<Uuid>,
    body: JsonText<Body>,
}

/// Declares the body's fields once: [`BodyOf`] borrows them from a ticket to write, [`Body`]
/// owns them as read. A field at its default is left out (and read back as it).
macro_rules! body {
    ($($field:ident: $ty:ty),* $(,)?) => {
        #[derive(Serialize)]
        pub(crate) struct BodyOf<'a> {
            $(#[serde(skip_serializing_if = "is_default")] $field: &'a $ty,)*
        }

        #[derive(Deserialize)]
        pub(crate) struct Body {
            $(#[serde(default)] $field: $ty,)*
        }

        /// What a ticket's body holds.
        pub(crate) fn body(t: &Ticket) -> JsonText<BodyOf<'_>> {
            JsonText(BodyOf { $($field: &t.$field,)* })
        }
    };
}

body! {
    description: String,
    channel: String,
    assignee: Option<Assignee>,
    pool_team: Option<Uuid>,
    state_entered_seq: u64,
    clocks: Vec<ClockState>,
    escalated_to: Option<Role>,
    rating: Option<u8>,
    service_minutes: u32,
    auto_closed: bool,
    auto_dispatches: u32,
    auto_dispatch_spent: bool,
    returns: u32,
    extension: Option<PendingExtension>,
    follow_up: Option<FollowUp>,
    parent: Option<Uuid>,
    duplicates: Vec<Uuid>,
    co_handlers: Vec<CoHandler>,
    tried: Vec<Uuid>,
    hotline: Option<workflow_core::hotline::Facts>,
    created_at: Timestamp,
    updated_at: Timestamp,
    closed_at: Option<Timestamp>,
}

fn is_default<T: Default + PartialEq>(v: &&T) -> bool {
    **v == T::default()
}

pub(crate) fn ticket(row: TicketRow) -> Result<Ticket, StoreError> {
    let TicketRow {
        id,
        community_id,
        branch_id,
        building_id,
        workflow_id,
        workflow_version,
        category,
        urgency,
        state,
        requester_id,
        version,
        terminal,
        on_wall,
        proxy_id,
        body: JsonText(b),
    } = row;
    let urgency = Urgency::parse(&urgency)
        .ok_or_else(|| StoreError::Other(format!("ticket {id}: urgency {urgency:?}")))?;
    Ok(Ticket {
        id,
        workflow_id,
        workflow_version: workflow_version as u32,
        category,
        urgency,
        description: b.description,
        channel: b.channel,
        state,
        requester: requester_id,
        community_id,
        branch_id,
        building_id,
        assignee: b.assignee,
        pool_team: b.pool_team,
        on_wall,
        version: version as u64,
        state_entered_seq: b.state_entered_seq,
        clocks: b.clocks,
        escalated_to: b.escalated_to,
        rating: b.rating,
        service_minutes: b.service_minutes,
        auto_closed: b.auto_closed,
        auto_dispatches: b.auto_dispatches,
        auto_dispatch_spent: b.auto_dispatch_spent,
        returns: b.returns,
        proxy: proxy_id,
        extension: b.extension,
        follow_up: b.follow_up,
        parent: b.parent,
        duplicates: b.duplicates,
        co_handlers: b.co_handlers,
        tried: b.tried,
        terminal,
        hotline: b.hotline,
        created_at: b.created_at,
        updated_at: b.updated_at,
        closed_at: b.closed_at,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A closed ticket's body as stores wrote it before: every field, the columns repeated.
    pub(crate) const WITH_THE_COLUMNS: &str = r#"{"id":"01a23326-1712-7580-aa80-88f822117dcd","workflow_id":"community-service","workflow_version":4,"category":"repair","urgency":"normal","description":"楼道灯不亮，晚上看不见","channel":"api","state":"closed","requester":"01a23326-16f5-76a3-b4c6-a95db625b424","community_id":"01a23326-16e9-778f-a6e9-cbf100468e44","branch_id":"01a23326-16f0-72b4-af7c-c93ed47b9ae5","building_id":"01a23326-16eb-728a-a232-6aab4ffe6c57","assignee":{"person":"01a23326-16f4-76b3-b5a8-30baec8ce063"},"pool_team":null,"on_wall":false,"version":11,"state_entered_seq":11,"clocks":[{"name":"resolution","cycle":1,"status":"stopped","target_secs":50400,"elapsed_secs":0,"since":null,"due":"2026-12-03T09:30:00Z","warn_at":null,"warned":false,"warnings":0,"breached":false,"escalation_level":0,"stopped_at":"2026-12-01T19:47:44.037751897Z","overrun_secs":-50400}],"escalated_to":null,"rating":5,"service_minutes":60,"auto_closed":false,"auto_dispatches":0,"terminal":true,"created_at":"2026-12-01T19:47:44Z","updated_at":"2026-12-01T19:47:44.040858308Z","closed_at":"2026-12-01T19:47:44.040858308Z"}"#;

    fn row(t: &Ticket, body: &str) -> TicketRow {
        TicketRow {
            id: t.id,
            community_id: t.community_id,
            branch_id: t.branch_id,
            building_id: t.building_id,
            workflow_id: t.workflow_id.clone(),
            workflow_version: t.workflow_version as i32,
            category: t.category.clone(),
            urgency: t.urgency.as_str().into(),
            state: t.state.clone(),
            requester_id: t.requester,
            version: t.version as i64,
            terminal: t.terminal,
            on_wall: t.on_wall,
            proxy_id: t.proxy,
            body: JsonText(serde_json::from_str(body).unwrap()),
        }
    }

    #[test]
    fn a_ticket_body_holds_what_its_columns_do_not_and_old_bodies_still_read() {
        let old: Ticket = serde_json::from_str(WITH_THE_COLUMNS).unwrap();
        assert_eq!(ticket(row(&old, WITH_THE_COLUMNS)).unwrap(), old);

        let new = serde_json::to_string(&body(&old).0).unwrap();
        let with_defaults_left_out = serde_json::to_string(&old).unwrap();
        assert!(
            new.len() + 350 < with_defaults_left_out.len(),
            "{} bytes: {new}",
            new.len()
        );
        for column in [
            "\"id\"",
            "workflow",
            "category",
            "\"state\"",
            "requester",
            "branch_id",
        ] {
            assert!(!new.contains(column), "{column} in {new}");
        }
        assert_eq!(ticket(row(&old, &new)).unwrap(), old);
    }
}
