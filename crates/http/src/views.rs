//! What the API returns: tickets as a caller may see them (labels, SLA clocks with what is
//! left, the actions this caller may take, contact details masked where they must be).

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use workflow_core::access;
use workflow_core::decide::remaining_secs;
use workflow_core::engine::Shown;
use workflow_core::event::Event;
use workflow_core::label::Label;
use workflow_core::ticket::{Assignee, ClockStatus, Ticket};
use workflow_core::{Role, allowed_actions};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;

#[derive(Serialize, ToSchema)]
pub struct LabelView {
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
    pub en: String,
}

impl From<&Label> for LabelView {
    fn from(l: &Label) -> Self {
        LabelView {
            zh_cn: l.zh_cn.clone(),
            en: l.en.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub name: String,
    /// Masked (`138****1234`) unless the caller is branch staff, the person themself, or the
    /// volunteer holding the open request.
    pub phone: Option<String>,
    /// The caller may read the whole number, but it stays masked: every such read is
    /// recorded, and the record could not be written (the database refuses writes). It
    /// shows once writes go through again.
    pub withheld: bool,
}

#[derive(Serialize, ToSchema)]
pub struct HolderView {
    /// `person` or `team`.
    pub kind: &'static str,
    pub id: Uuid,
    /// The volunteer's or the team's name: who is coming.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClockView {
    pub name: String,
    pub label: LabelView,
    /// `not_started`, `running`, `paused`, `stopped`.
    pub status: &'static str,
    pub due: Option<String>,
    /// When the warning falls due (absent once stopped).
    pub warn_at: Option<String>,
    /// The warning comes this many working seconds before the deadline: a page counting
    /// `remaining_secs` down turns amber when it reaches this.
    pub warn_before_secs: Option<i64>,
    /// Working seconds left (negative once overdue); absent unless running or paused.
    pub remaining_secs: Option<i64>,
    pub warning: bool,
    pub breached: bool,
    /// When stopped: working seconds over (positive) or under (negative) the target.
    pub overrun_secs: Option<i64>,
    pub escalation_level: u8,
    /// The deadline before the first approved extension (延期), if one moved it.
    pub original_due: Option<String>,
    /// Working seconds added by approved extensions.
    pub extended_secs: i64,
}

/// An extension asked for and waiting for the level above.
#[derive(Serialize, ToSchema)]
pub struct ExtensionView {
    pub clock: String,
    /// Working seconds asked for.
    pub by_secs: i64,
    pub reason: String,
    pub asked_by: Option<Uuid>,
    pub asked_at: String,
}

/// The follow-up call (回访) after closing.
#[derive(Serialize, ToSchema)]
pub struct FollowUpView {
    pub due_at: String,
    pub done_at: Option<String>,
}

/// A co-handler (协办) beside the holder, who leads: their own deadline, their note.
#[derive(Serialize, ToSchema)]
pub struct CoHandlerView {
    pub id: Uuid,
    pub name: String,
    pub added_at: String,
    pub due: String,
    pub breached: bool,
    pub reported_at: Option<String>,
    pub note: Option<String>,
    /// The lead completed the request (or it ended): nothing more is expected.
    pub closed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ActionView {
    pub action: String,
    pub label: LabelView,
    pub requires: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketView {
    pub id: Uuid,
    pub workflow: String,
    pub category: String,
    pub category_label: Option<LabelView>,
    pub urgency: &'static str,
    pub state: String,
    pub state_label: LabelView,
    pub terminal: bool,
    pub description: String,
    /// `visit`, `phone`, `12345`, `wechat`, `open311`, `console` or `api`.
    pub channel: String,
    pub requester: ContactView,
    /// Who entered it for the requester (代办), if someone did.
    pub proxy_id: Option<Uuid>,
    pub assignee: Option<HolderView>,
    pub community_id: Uuid,
    pub branch_id: Uuid,
    pub building_id: Option<Uuid>,
    /// Send it back with the next action: a stale version is a 409.
    pub version: u64,
    pub escalated_to: Option<String>,
    /// Dispatches returned by their holder (退单异议).
    pub returns: u32,
    pub rating: Option<u8>,
    pub service_hours: f64,
    pub auto_closed: bool,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub clocks: Vec<ClockView>,
    /// An extension (延期) waiting for a decision.
    pub extension: Option<ExtensionView>,
    pub follow_up: Option<FollowUpView>,
    /// The request this one is merged under (并单): its work is done there.
    pub parent: Option<Uuid>,
    /// Requests merged under this one: each is completed with it, and rated by its resident.
    pub duplicates: Vec<Uuid>,
    /// Co-handlers (协办) beside the holder, who leads (主办).
    pub co_handlers: Vec<CoHandlerView>,
    pub allowed_actions: Vec<ActionView>,
    /// Paid with time bank hours (时间银行), on a request read on its own: how many, and
    /// whether they are `held`, `paid` to its volunteer or `returned` to its resident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid: Option<PaidView>,
    /// Made from a city hotline work order (12345).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotline: Option<HotlineView>,
}

/// The city hotline work order a ticket was made from (12345): the platform's own terms.
#[derive(Serialize, ToSchema)]
pub struct HotlineView {
    pub order_number: String,
    /// `consult`, `help`, `complaint`, `report`, `suggestion` or `thanks`.
    pub request_type: String,
    pub request_type_label: LabelView,
    /// 保密: the requester is shown only to the lead handler and the office.
    pub confidential: bool,
    pub received_at: String,
    /// The platform's deadline (办理时限), as it sent it.
    pub platform_deadline: Option<String>,
    pub category_code: String,
    pub address: String,
    pub lead_unit: String,
    pub assisting_units: Vec<String>,
    /// Reminders (催办) and supervisions (督办) received.
    pub reminders: u32,
    pub supervisions: u32,
}

impl From<workflow_core::hotline::Facts> for HotlineView {
    fn from(h: workflow_core::hotline::Facts) -> Self {
        HotlineView {
            order_number: h.order_number,
            request_type: h.request_type.as_str().to_owned(),
            request_type_label: LabelView {
                zh_cn: h.request_type.zh_cn().to_owned(),
                en: h.request_type.as_str().to_owned(),
            },
            confidential: h.confidential,
            received_at: ts(h.received_at),
            platform_deadline: h.platform_deadline.map(ts),
            category_code: h.category_code,
            address: h.address,
            lead_unit: h.lead_unit,
            assisting_units: h.assisting_units,
            reminders: h.reminders,
            supervisions: h.supervisions,
        }
    }
}

/// What stands for a confidential requester's name (保密).
pub const CONFIDENTIAL_REQUESTER: &str = "（保密）";

#[derive(Serialize, ToSchema)]
pub struct PaidView {
    pub hours: f64,
    pub state: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub seq: u64,
    pub at: String,
    pub actor_id: Option<Uuid>,
    /// Who acted, by name (none for the system's events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    pub actor_role: String,
    /// The event's name: an action, `submitted`, `clock_started`, `sla_breach`, …
    pub kind: String,
    /// Everything the event recorded (JSON object).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `138****1234`: what everyone but the few who need the number sees.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

fn ts(t: Timestamp) -> String {
    t.to_string()
}

/// Whether a view may carry contact details unmasked: on a single ticket's page, where each
/// such read is audited; lists are always masked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    MayReveal,
    Masked,
}

/// What stands for a sensitive request's words where the reader may not read them.
pub const SENSITIVE_HIDDEN: &str = "（敏感信息，仅经办志愿者和支部可见）";

/// One ticket as this caller may see it.
pub async fn ticket_view(
    state: &AppState,
    caller: &Caller,
    t: Ticket,
    contact: Contact,
) -> ApiResult<TicketView> {
    let mut views = ticket_views(state, caller, vec![t], contact).await?;
    Ok(views.remove(0))
}

/// Tickets as this caller may see them; the requesters' contacts are read in one query.
pub async fn ticket_views(
    state: &AppState,
    caller: &Caller,
    tickets: Vec<Ticket>,
    contact: Contact,
) -> ApiResult<Vec<TicketView>> {
    let mut ids: Vec<_> = tickets
        .iter()
        .flat_map(|t| {
            let co = t.co_handlers.iter().map(|c| c.person);
            [t.requester]
                .into_iter()
                .chain(t.assignee.map(Assignee::id))
                .chain(co)
        })
        .collect();
    ids.sort();
    ids.dedup();
    let contacts = state.store.contacts(&ids).await?;
    let mut views = Vec::with_capacity(tickets.len());
    for t in tickets {
        let known = contacts.get(&t.requester).cloned();
        let holder = t
            .assignee
            .and_then(|a| contacts.get(&a.id()))
            .map(|(name, _)| name.clone());
        let names = |id: Uuid| contacts.get(&id).map(|(name, _)| name.clone());
        let co_names = t
            .co_handlers
            .iter()
            .map(|c| names(c.person).unwrap_or_default())
            .collect();
        views.push(view_one(state, caller, t, contact, known, holder, co_names).await?);
    }
    Ok(views)
}

async fn view_one(
    state: &AppState,
    caller: &Caller,
    t: Ticket,
    contact: Contact,
    known: Option<(String, Option<String>)>,
    holder_name: Option<String>,
    co_names: Vec<String>,
) -> ApiResult<TicketView> {
    let catalog = state.engine.catalog();
    let wf = catalog.workflow(&t.workflow_id, t.workflow_version);
    let now = state.engine.now();
    // A confidential hotline order's requester (保密), for those the core does not name: no
    // name, no number, no identity, and no read to record.
    let hidden = !caller.principal.sees_requester(&t);
    let known = if hidden { None } else { known };
    let (name, phone) = known.unwrap_or_default();
    // A sensitive request's words and number: for those the core names, on its own page
    // (recorded, number or not), and for its asker.
    let sensitive = catalog.category(&t.category).is_some_and(|c| c.sensitive);
    let own = caller.principal.id == t.requester;
    let reads_words = !sensitive
        || own
        || (contact == Contact::MayReveal && caller.principal.reads_sensitive(&t));
    let contact = if reads_words {
        contact
    } else {
        Contact::Masked
    };
    // The core says how much of the number this caller sees, and records a read in full.
    let shown = match (&phone, contact) {
        _ if hidden => Shown::Masked,
        (_, Contact::MayReveal) if sensitive && !own => {
            state.engine.read_contact(&caller.principal, &t).await?
        }
        (None, _) => Shown::Masked,
        (Some(_), Contact::MayReveal) => state.engine.read_contact(&caller.principal, &t).await?,
        (Some(_), Contact::Masked) if caller.principal.contact(&t) == access::Contact::Own => {
            Shown::Full
        }
        (Some(_), Contact::Masked) => Shown::Masked,
    };
    let phone = phone.map(|p| {
        if shown == Shown::Full {
            p
        } else {
            mask_phone(&p)
        }
    });
    let withheld = shown == Shown::Withheld;
    let state_label = wf
        .and_then(|w| {
            w.state_id(&t.state)
                .map(|s| LabelView::from(&w.state(s).label))
        })
        .unwrap_or(LabelView {
            zh_cn: t.state.clone(),
            en: t.state.clone(),
        });
    let clocks = t
        .clocks
        .iter()
        .map(|c| {
            let def = wf.and_then(|w| w.clocks.iter().find(|d| d.name == c.name));
            ClockView {
                name: c.name.clone(),
                label: def.map_or(
                    LabelView {
                        zh_cn: c.name.clone(),
                        en: c.name.clone(),
                    },
                    |d| LabelView::from(&d.label),
                ),
                status: match c.status {
                    ClockStatus::NotStarted => "not_started",
                    ClockStatus::Running => "running",
                    ClockStatus::Paused => "paused",
                    ClockStatus::Stopped => "stopped",
                },
                due: c.due.filter(|_| c.status != ClockStatus::Stopped).map(ts),
                warn_at: c
                    .warn_at
                    .filter(|_| c.status != ClockStatus::Stopped)
                    .map(ts),
                warn_before_secs: def
                    .and_then(|d| d.warn_before.map(|w| w.seconds(d.working_day_secs()))),
                remaining_secs: def.and_then(|d| remaining_secs(d, c, now)),
                warning: c.warned
                    || c.warn_at
                        .is_some_and(|w| w <= now && c.status == ClockStatus::Running),
                breached: c.breached
                    || (c.status == ClockStatus::Running && c.due.is_some_and(|d| d <= now)),
                overrun_secs: c.overrun_secs,
                escalation_level: c.escalation_level,
                original_due: c.original_due.map(ts),
                extended_secs: c.extended_secs,
            }
        })
        .collect();
    let allowed = wf
        .map(|w| {
            allowed_actions(w, &t, &caller.actor, now)
                .into_iter()
                .map(|tr| ActionView {
                    action: tr.action.clone(),
                    label: LabelView::from(&tr.label),
                    requires: tr.requires.iter().map(|f| f.as_str()).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TicketView {
        id: t.id,
        workflow: format!("{}@{}", t.workflow_id, t.workflow_version),
        category_label: catalog
            .category(&t.category)
            .map(|c| LabelView::from(&c.label)),
        category: t.category,
        urgency: t.urgency.as_str(),
        state: t.state,
        state_label,
        terminal: t.terminal,
        description: if reads_words {
            t.description
        } else {
            SENSITIVE_HIDDEN.to_owned()
        },
        channel: t.channel,
        proxy_id: t.proxy,
        requester: if hidden {
            ContactView {
                id: Uuid::nil(),
                name: CONFIDENTIAL_REQUESTER.to_owned(),
                phone: None,
                withheld: false,
            }
        } else {
            ContactView {
                id: t.requester,
                name,
                phone,
                withheld,
            }
        },
        assignee: t.assignee.map(|a| HolderView {
            kind: match a {
                Assignee::Person(_) => "person",
                Assignee::Team(_) => "team",
            },
            id: a.id(),
            name: holder_name.unwrap_or_default(),
        }),
        community_id: t.community_id,
        branch_id: t.branch_id,
        building_id: t.building_id,
        version: t.version,
        escalated_to: t.escalated_to.map(|r: Role| r.as_str().to_owned()),
        returns: t.returns,
        rating: t.rating,
        service_hours: f64::from(t.service_minutes) / 60.0,
        auto_closed: t.auto_closed,
        created_at: ts(t.created_at),
        updated_at: ts(t.updated_at),
        closed_at: t.closed_at.map(ts),
        clocks,
        extension: t.extension.map(|e| ExtensionView {
            clock: e.clock,
            by_secs: e.by_secs,
            reason: e.reason,
            asked_by: e.asked_by,
            asked_at: ts(e.asked_at),
        }),
        follow_up: t.follow_up.map(|f| FollowUpView {
            due_at: ts(f.due_at),
            done_at: f.done_at.map(ts),
        }),
        parent: t.parent,
        duplicates: t.duplicates,
        co_handlers: t
            .co_handlers
            .into_iter()
            .zip(co_names)
            .map(|(c, name)| CoHandlerView {
                id: c.person,
                name,
                added_at: ts(c.added_at),
                due: ts(c.due),
                breached: c.breached || (!c.closed && c.reported_at.is_none() && c.due <= now),
                reported_at: c.reported_at.map(ts),
                note: c.note,
                closed: c.closed,
            })
            .collect(),
        allowed_actions: allowed,
        paid: None,
        hotline: t.hotline.map(HotlineView::from),
    })
}

pub fn event_view(e: Event) -> EventView {
    let mut data = serde_json::to_value(&e.kind).unwrap_or_default();
    if let Some(o) = data.as_object_mut() {
        o.remove("type");
    }
    EventView {
        seq: e.seq,
        at: ts(e.at),
        actor_id: e.actor.id,
        actor_name: None,
        actor_role: e.actor.role.as_str().to_owned(),
        kind: e.kind.name().to_owned(),
        data,
    }
}

/// A page of the server's own with no script (a certificate's verification, a work unit's
/// feedback sheet): its styles from the console, nothing else loaded, never framed.
pub fn no_script_page(html: String) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; \
                 frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}
