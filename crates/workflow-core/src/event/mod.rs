//! Events: the append-only history of a ticket. The fold that projects them into a
//! [`Ticket`] is [`replay`]. Events carry every value the fold needs (due times, elapsed
//! working time, whether a state is terminal), so replay needs no workflow definition and no
//! calendar.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::role::Role;
use crate::ticket::{Assignee, ClockState, Urgency};

/// Who caused an event. `id` is `None` for the system (timers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub id: Option<Uuid>,
    pub role: Role,
}

impl ActorRef {
    /// The system: timers, and what rules do on their own.
    pub fn system() -> ActorRef {
        ActorRef {
            id: None,
            role: Role::System,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub ticket_id: Uuid,
    pub seq: u64,
    pub at: Timestamp,
    pub actor: ActorRef,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What a ticket is created with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub workflow_id: String,
    pub workflow_version: u32,
    pub category: String,
    pub urgency: Urgency,
    pub description: String,
    pub channel: String,
    pub state: String,
    pub requester: Uuid,
    /// Who entered it on the requester's behalf (a volunteer, a building head, staff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Uuid>,
    pub community_id: Uuid,
    pub branch_id: Uuid,
    pub building_id: Option<Uuid>,
    pub clocks: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_wall: bool,
    /// Made from a city hotline work order (12345): the order's facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotline: Option<crate::hotline::Facts>,
}

/// What an action credited its holder with (志愿时长 · 志愿积分): the ledger's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub person: Uuid,
    pub minutes: u32,
    pub points: i32,
}

/// The data an action carried, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_minutes: Option<u32>,
    /// More time asked for, as written (`"2wd"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_by: Option<String>,
    /// The request merged under, or followed (并单).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Uuid>,
    /// The requester was contacted about the result (a hotline order's completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted: Option<bool>,
}

/// A co-handler's note as it stood when the co-handling closed (`None`: never reported).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoNote {
    pub person: Uuid,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Submitted(Submitted),
    Transitioned {
        action: String,
        from: String,
        to: String,
        terminal: bool,
        /// An action without `to`: the ticket stays in its state, which is not re-entered
        /// (its timers keep running). Any other action enters `to`, even when it is `from`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stays: bool,
        /// Whether `to` is a wall state.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        on_wall: bool,
        /// For those who handle the request only (an internal action): never shown or told
        /// to the resident.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        internal: bool,
        /// The holder returned the dispatch (an `[objections]` action, 退单异议): counted.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        objection: bool,
        /// The ticket's holder after the action (unchanged actions repeat it).
        assignee_after: Option<Assignee>,
        #[serde(flatten)]
        data: Recorded,
        /// For a timer's action: when the timer was due (the event's `at` is when it fired).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timer_due: Option<Timestamp>,
        /// Hours and points credited to the holder by this action (a `[credit]` rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credit: Option<Credit>,
        /// The volunteer who held it and handed it back unfinished (declined, let it expire,
        /// sent back by the resident).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        released: Option<Uuid>,
    },
    /// A credit cut by the day's cap, or work reported done implausibly soon: the branch is
    /// told, to look (see [`crate::credit`]).
    CreditQuestioned {
        person: Uuid,
        doubts: Vec<crate::credit::Doubt>,
    },
    /// Automatic dispatch gave up: the attempts ran out, or nobody eligible was left. The
    /// secretary is told and dispatches by hand.
    AutoDispatchStopped {
        attempts: u32,
        no_candidate: bool,
    },
    ClockStarted {
        clock: String,
        cycle: u32,
        target_secs: i64,
        due: Timestamp,
        warn_at: Option<Timestamp>,
    },
    ClockPaused {
        clock: String,
        /// The state that paused it.
        reason: String,
        elapsed_secs: i64,
    },
    ClockResumed {
        clock: String,
        due: Timestamp,
        warn_at: Option<Timestamp>,
    },
    ClockStopped {
        clock: String,
        elapsed_secs: i64,
        overrun_secs: i64,
    },
    SlaWarning {
        clock: String,
        due: Timestamp,
        timer_due: Timestamp,
        /// A warning at this percentage of the target run; absent: the lead-time warning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        share: Option<u8>,
        /// The chase notice (催办), the last before the deadline: `sla_chase`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        chase: bool,
        /// When the clock's next warning falls due, if it has another.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_at: Option<Timestamp>,
    },
    SlaBreached {
        clock: String,
        due: Timestamp,
        /// How late the breach was noticed relative to the deadline, in seconds.
        late_by_secs: i64,
        timer_due: Timestamp,
    },
    /// The holder asked for more time (延期) on a clock; the level above decides.
    ExtensionRequested {
        clock: String,
        by_secs: i64,
        reason: String,
    },
    /// The extension was approved: the deadline moved from `due_before` to `due`.
    ClockExtended {
        clock: String,
        by_secs: i64,
        due_before: Timestamp,
        due: Timestamp,
        /// The deadline before any extension of this cycle.
        original_due: Timestamp,
        warn_at: Option<Timestamp>,
        /// Why more time was asked for (the resident is told).
        reason: String,
    },
    ExtensionRefused {
        clock: String,
    },
    /// The follow-up call (回访) is due: a task for the branch.
    FollowUpDue {
        timer_due: Timestamp,
    },
    /// The follow-up was recorded (by the `[follow_up]` action just before).
    FollowUpDone,
    /// The request moved to a newer version of its workflow (`linli migrate-tickets`): its
    /// state by the plan's map, its clocks as the new version has them.
    Migrated {
        workflow_version_before: u32,
        workflow_version: u32,
        state_before: String,
        state: String,
        on_wall: bool,
        clocks: Vec<ClockState>,
    },
    /// Merged under `parent` (并单): the work is done there, once.
    MergedInto {
        parent: Uuid,
    },
    /// No longer merged under `parent`: undone by hand, or the parent will not be done.
    Unmerged {
        parent: Uuid,
    },
    /// A request was merged under this one; its resident is told with it and rates it.
    DuplicateAttached {
        child: Uuid,
    },
    DuplicateDetached {
        child: Uuid,
    },
    /// A co-handler (协办) was added beside the lead, with their own deadline.
    CoHandlerAdded {
        person: Uuid,
        due: Timestamp,
    },
    /// A co-handler reported their part (by the `[co_handling]` report action just before).
    CoHandlerReported {
        person: Uuid,
        note: String,
    },
    /// A co-handler's own deadline passed without their report.
    CoHandlerBreached {
        person: Uuid,
        due: Timestamp,
        late_by_secs: i64,
        timer_due: Timestamp,
    },
    /// The lead completed the request (or it ended): every co-handler's note as it stood.
    CoHandlingClosed {
        notes: Vec<CoNote>,
    },
    /// Returned dispatches reached the `[objections]` count: the request goes up to `to`.
    ObjectionsEscalated {
        returns: u32,
        to: Role,
    },
    Escalated {
        clock: String,
        level: u8,
        to: Role,
        assign: bool,
        raise_priority: bool,
        timer_due: Timestamp,
    },
    /// The hotline platform sent the work order again with something changed (补充/更正).
    OrderUpdated(crate::hotline::OrderUpdate),
    /// The hotline platform chases the order: 催办, or 督办 (`supervision`).
    PlatformReminder {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        supervision: bool,
        note: String,
    },
}

impl Event {
    /// Recorded for those who handle the request only (an internal note): the resident
    /// never sees it.
    pub fn is_internal(&self) -> bool {
        matches!(
            self.kind,
            EventKind::Transitioned { internal: true, .. } | EventKind::CreditQuestioned { .. }
        )
    }

    /// Goes on a volunteer's record, which dispatch ranking weighs: a holder handed the
    /// request back (declined, let it expire, was sent back), or the resident rated it.
    pub fn is_on_record(&self) -> bool {
        matches!(
            &self.kind,
            EventKind::Transitioned { released, data, .. }
                if released.is_some() || data.rating.is_some()
        )
    }
}

impl EventKind {
    /// What the system does on its own, whoever's action set it off: clocks starting,
    /// pausing and stopping, warnings, breaches and escalations, a count of returns reached,
    /// automatic dispatch giving up, a credit questioned, a follow-up falling due, a
    /// co-handler's deadline passing, co-handling closing with the lead. Recorded as the
    /// system's, never as the person's who acted.
    pub fn is_automatic(&self) -> bool {
        matches!(
            self,
            EventKind::ClockStarted { .. }
                | EventKind::ClockPaused { .. }
                | EventKind::ClockResumed { .. }
                | EventKind::ClockStopped { .. }
                | EventKind::SlaWarning { .. }
                | EventKind::SlaBreached { .. }
                | EventKind::Escalated { .. }
                | EventKind::ObjectionsEscalated { .. }
                | EventKind::AutoDispatchStopped { .. }
                | EventKind::CreditQuestioned { .. }
                | EventKind::FollowUpDue { .. }
                | EventKind::CoHandlerBreached { .. }
                | EventKind::CoHandlingClosed { .. }
        )
    }

    /// The stable name used in notifications and the audit trail.
    pub fn name(&self) -> &str {
        match self {
            EventKind::Submitted(_) => "submitted",
            EventKind::Transitioned { action, .. } => action,
            EventKind::ClockStarted { .. } => "clock_started",
            EventKind::ClockPaused { .. } => "clock_paused",
            EventKind::ClockResumed { .. } => "clock_resumed",
            EventKind::ClockStopped { .. } => "clock_stopped",
            EventKind::SlaWarning { chase: true, .. } => "sla_chase",
            EventKind::SlaWarning { .. } => "sla_warning",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ClockExtended { .. } => "clock_extended",
            EventKind::ExtensionRefused { .. } => "extension_refused",
            EventKind::FollowUpDue { .. } => "follow_up_due",
            EventKind::FollowUpDone => "follow_up_done",
            EventKind::Migrated { .. } => "migrated",
            EventKind::MergedInto { .. } => "merged_into",
            EventKind::Unmerged { .. } => "unmerged",
            EventKind::DuplicateAttached { .. } => "duplicate_attached",
            EventKind::DuplicateDetached { .. } => "duplicate_detached",
            EventKind::CoHandlerAdded { .. } => "co_handler_added",
            EventKind::CoHandlerReported { .. } => "co_handler_reported",
            EventKind::CoHandlerBreached { .. } => "co_handler_breached",
            EventKind::CoHandlingClosed { .. } => "co_handling_closed",
            EventKind::SlaBreached { .. } => "sla_breach",
            EventKind::Escalated { .. } => "escalation",
            EventKind::ObjectionsEscalated { .. } => "objections_escalated",
            EventKind::AutoDispatchStopped { .. } => "auto_dispatch_stopped",
            EventKind::CreditQuestioned { .. } => "credit_questioned",
            EventKind::OrderUpdated(_) => "order_updated",
            EventKind::PlatformReminder {
                supervision: true, ..
            } => "platform_supervision",
            EventKind::PlatformReminder { .. } => "platform_reminder",
        }
    }
}

mod replay;

pub use replay::ReplayError;
