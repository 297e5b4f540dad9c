//! The 12345 bridge as the HTTP adapter holds it: the deployment's mapping (the platform's
//! category codes and units to Linli's categories and branches), the shared secret, and the
//! inbound schema read into the core's [`Order`]. Loaded by `linli serve --hotline FILE`
//! (docs/HOTLINE.md); the routes are `routes::hotline`.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use workflow_core::hotline::{Caller, Facts, Order, PlatformEvent, RequestType, Satisfaction};

/// Where the orders of one of the platform's units (承办单位) go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitPlace {
    pub community_id: Uuid,
    pub branch_id: Uuid,
}

/// A deployment's bridge to its city hotline platform.
#[derive(Clone, Debug)]
pub struct Bridge {
    /// The workflow orders become tickets on (`hotline-12345`).
    pub workflow: String,
    /// Signs both ways: the platform's requests, and the callbacks.
    pub secret: String,
    /// Where the callbacks go.
    pub callback_url: String,
    /// The platform's category code → Linli's category.
    pub categories: HashMap<String, String>,
    /// The category of a code the file does not map (none: such an order is refused).
    pub other_category: Option<String>,
    /// The platform's unit name → the community and branch that handle its orders.
    pub units: HashMap<String, UnitPlace>,
}

/// Why an order cannot be taken as the mapping stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Unmapped {
    Unit(String),
    Category(String),
}

impl Bridge {
    /// Linli's category for a code.
    pub fn category(&self, code: &str) -> Result<&str, Unmapped> {
        self.categories
            .get(code)
            .or(self.other_category.as_ref())
            .map(String::as_str)
            .ok_or_else(|| Unmapped::Category(code.to_owned()))
    }

    /// Where a unit's orders go.
    pub fn place(&self, unit: &str) -> Result<UnitPlace, Unmapped> {
        self.units
            .get(unit)
            .copied()
            .ok_or_else(|| Unmapped::Unit(unit.to_owned()))
    }
}

/// Who called, as the order names them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequesterBody {
    pub name: String,
    pub phone: String,
    /// 保密: hide the caller from everyone but the lead handler and the office.
    #[serde(default)]
    pub confidential: bool,
}

/// A work order (工单) as the platform sends it. Times are RFC 3339 with an offset.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// 工单编号: unique; sending it again is the same order.
    pub order_number: String,
    /// How the platform was reached: 电话, 网络, 微信, …
    pub channel: String,
    pub requester: RequesterBody,
    pub received_at: String,
    #[serde(default)]
    pub address: String,
    /// 咨询/求助/投诉/举报/建议/感谢, or consult/help/complaint/report/suggestion/thanks.
    pub request_type: String,
    /// 事项分类: mapped to a category by the deployment's mapping file.
    pub category_code: String,
    /// 诉求内容.
    pub content: String,
    /// 主办单位: mapped to a community and branch by the mapping file.
    pub lead_unit: String,
    /// 协办单位.
    #[serde(default)]
    pub assisting_units: Vec<String>,
    /// The platform's deadline (办理时限).
    pub deadline: Option<String>,
    /// 紧急.
    #[serde(default)]
    pub urgent: bool,
}

/// The most characters of the short fields (numbers, names, codes, units).
const MAX_SHORT: usize = 100;

fn short(field: &'static str, v: &str) -> Result<String, (&'static str, String)> {
    let v = v.trim();
    if v.is_empty() {
        return Err((field, "is required".into()));
    }
    if v.chars().count() > MAX_SHORT || v.chars().any(char::is_control) {
        return Err((
            field,
            format!("at most {MAX_SHORT} characters, no control characters"),
        ));
    }
    Ok(v.to_owned())
}

fn time(field: &'static str, v: &str) -> Result<Timestamp, (&'static str, String)> {
    v.parse::<Timestamp>().map_err(|e| {
        (
            field,
            format!("an RFC 3339 time with an offset, such as 2026-12-07T09:30:00+08:00 ({e})"),
        )
    })
}

impl OrderBody {
    /// The order as the core takes it, its codes mapped; the field and why, if it cannot be.
    pub fn read(&self, bridge: &Bridge) -> Result<(Order, UnitPlace), (&'static str, String)> {
        let request_type = RequestType::parse(self.request_type.trim()).ok_or((
            "request_type",
            "one of 咨询, 求助, 投诉, 举报, 建议, 感谢 (or consult, help, complaint, report, suggestion, thanks)".into(),
        ))?;
        let lead_unit = short("lead_unit", &self.lead_unit)?;
        let category_code = short("category_code", &self.category_code)?;
        let place = bridge.place(&lead_unit).map_err(|_| {
            (
                "lead_unit",
                format!("{lead_unit:?} is not a unit of the mapping file"),
            )
        })?;
        let category = bridge.category(&category_code).map_err(|_| {
            (
                "category_code",
                format!("{category_code:?} is not mapped to a category"),
            )
        })?;
        let assisting_units = self
            .assisting_units
            .iter()
            .map(|u| short("assisting_units", u))
            .collect::<Result<_, _>>()?;
        let facts = Facts {
            order_number: short("order_number", &self.order_number)?,
            request_type,
            confidential: self.requester.confidential,
            received_at: time("received_at", &self.received_at)?,
            platform_deadline: self
                .deadline
                .as_deref()
                .map(|d| time("deadline", d))
                .transpose()?,
            category_code,
            address: self.address.trim().chars().take(200).collect(),
            lead_unit,
            assisting_units,
            reminders: 0,
            supervisions: 0,
        };
        let order = Order {
            facts,
            channel: short("channel", &self.channel)?,
            requester: Caller {
                name: short("requester.name", &self.requester.name)?,
                phone: short("requester.phone", &self.requester.phone)?,
            },
            content: self.content.trim().to_owned(),
            category: category.to_owned(),
            urgent: self.urgent,
        };
        Ok((order, place))
    }
}

/// What the platform says of an order it sent.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlatformEventBody {
    /// 催办.
    Reminder {
        #[serde(default)]
        note: String,
    },
    /// 督办.
    Supervision {
        #[serde(default)]
        note: String,
    },
    /// The answer to an extension request (延期申请).
    ExtensionAnswer {
        approved: bool,
        #[serde(default)]
        reason: String,
    },
    /// The answer to a return (退单).
    ReturnAnswer {
        approved: bool,
        #[serde(default)]
        reason: String,
    },
    /// The follow-up call (回访).
    FollowUp {
        solved: bool,
        /// `satisfied` (满意), `basically_satisfied` (基本满意) or `dissatisfied` (不满意).
        #[schema(value_type = String)]
        satisfaction: Satisfaction,
        #[serde(default)]
        note: String,
    },
}

impl PlatformEventBody {
    pub fn event(self) -> PlatformEvent {
        match self {
            PlatformEventBody::Reminder { note } => PlatformEvent::Reminder {
                supervision: false,
                note,
            },
            PlatformEventBody::Supervision { note } => PlatformEvent::Reminder {
                supervision: true,
                note,
            },
            PlatformEventBody::ExtensionAnswer { approved, reason } => {
                PlatformEvent::Extension { approved, reason }
            }
            PlatformEventBody::ReturnAnswer { approved, reason } => {
                PlatformEvent::Return { approved, reason }
            }
            PlatformEventBody::FollowUp {
                solved,
                satisfaction,
                note,
            } => PlatformEvent::FollowUp {
                solved,
                satisfaction,
                note,
            },
        }
    }
}
