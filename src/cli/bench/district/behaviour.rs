//! How the simulated people behave: when residents ask and for what, how soon secretaries,
//! volunteers and residents answer, and what they choose. Pure draws from the world's
//! random stream and the office calendar; the numbers are judgement, written down here so
//! that a reader can disagree with one line.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use workflow_core::Urgency;
use workflow_core::calendar::Calendar;

use super::rng::Rng;

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

/// The categories requests come in, and their share: 助老 first (the seeds' 一老一小, 敲门行动,
/// 独居老人), then repairs (扶手, 灭火器, 桌椅), cleanliness (环境整治), 微孝 errands
/// (荷花塘: 120 in eight months for one kind of errand alone), clinics (义诊) and legal advice.
/// Disputes and micro-wishes run their own workflows and are not simulated.
pub const CATEGORIES: [(&str, f64); 6] = [
    ("elderly_care", 0.30),
    ("repair", 0.25),
    ("sanitation", 0.15),
    ("errand", 0.15),
    ("health", 0.10),
    ("legal", 0.05),
];

/// Requests by hour of the day (local), relative: the morning rush after breakfast, the
/// afternoon, a little in the evening, almost nothing at night.
const HOURLY: [f64; 24] = [
    0.05, 0.02, 0.02, 0.02, 0.03, 0.1, 0.4, 1.2, 2.6, 3.0, 2.6, 1.6, 0.8, 1.0, 1.8, 2.0, 1.8, 1.3,
    1.0, 1.2, 1.0, 0.6, 0.3, 0.1,
];
/// On a weekend or a public holiday people ask less.
const DAY_OFF: f64 = 0.65;

/// The relative rate of requests in the hour starting at `t`.
pub fn arrival_weight(calendar: &Calendar, zone: &TimeZone, t: Timestamp) -> f64 {
    let local = t.to_zoned(zone.clone());
    let day = if calendar.intervals_on(local.date()).is_empty() {
        DAY_OFF
    } else {
        1.0
    };
    HOURLY[local.hour() as usize] * day
}

pub fn category(rng: &mut Rng) -> &'static str {
    let weights: Vec<f64> = CATEGORIES.iter().map(|(_, w)| *w).collect();
    CATEGORIES[rng.weighted(&weights)].0
}

pub fn urgency(rng: &mut Rng) -> Urgency {
    if rng.chance(0.08) {
        Urgency::Urgent
    } else {
        Urgency::Normal
    }
}

/// A resident who will withdraw the request before anyone takes it (her son fixed it).
pub const CANCELS: f64 = 0.03;
/// Requests the secretary turns away (not the community's to do).
pub const REJECTS: f64 = 0.02;
/// Dispatches to a team's pool rather than a person.
pub const TO_TEAM: f64 = 0.10;

/// When the secretary gets to a request that is waiting for her, in office time: most
/// within the hour, some after a busy morning, a few after days away (these breach, warn
/// and climb the ladder).
pub fn secretary_at(rng: &mut Rng, calendar: &Calendar, now: Timestamp, urgent: bool) -> Timestamp {
    let secs = if urgent && rng.chance(0.8) {
        rng.between(3.0, 20.0) * MINUTE as f64
    } else {
        match rng.weighted(&[0.85, 0.10, 0.05]) {
            0 => rng.between(5.0, 60.0) * MINUTE as f64,
            1 => rng.between(1.0, 4.0) * HOUR as f64,
            _ => rng.between(1.0, 3.0) * calendar.working_day_secs() as f64,
        }
    };
    minute(calendar.add(now, secs as i64))
}

/// What a volunteer does with a dispatch.
pub enum Answer {
    Accept,
    Decline,
    /// Lets it expire: the dispatch goes back to the branch by itself.
    Ignore,
}

pub fn answer(rng: &mut Rng) -> Answer {
    match rng.weighted(&[0.78, 0.07, 0.15]) {
        0 => Answer::Accept,
        1 => Answer::Decline,
        _ => Answer::Ignore,
    }
}

/// Volunteers answer their phones within minutes, day or evening.
pub fn volunteer_answers_at(rng: &mut Rng, now: Timestamp) -> Timestamp {
    minute(now + SignedDuration::from_secs((rng.exponential(8.0).min(25.0) * 60.0) as i64 + 60))
}

/// When work starts or goes on: in the daytime (07:30 to 21:00, local).
pub fn daytime(rng: &mut Rng, zone: &TimeZone, t: Timestamp) -> Timestamp {
    let local = t.to_zoned(zone.clone());
    if (7..21).contains(&local.hour()) {
        return minute(t);
    }
    let day = if local.hour() >= 21 {
        local.date().tomorrow().unwrap_or(local.date())
    } else {
        local.date()
    };
    let morning = day
        .at(7, 30, 0, 0)
        .to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(t);
    minute(morning + SignedDuration::from_secs((rng.exponential(90.0) * 60.0) as i64))
}

/// From accepting to starting: on the way within the hour or so.
pub fn start_after(rng: &mut Rng) -> SignedDuration {
    SignedDuration::from_secs((rng.exponential(50.0) * 60.0) as i64 + 5 * MINUTE)
}

/// From starting to done, by category; one in twenty-five drags on for a week or two (a part
/// to order, a resident away) and breaches its resolution deadline.
pub fn work_takes(rng: &mut Rng, category: &str) -> SignedDuration {
    let mean_hours = match category {
        "elderly_care" => 3.0,
        "repair" => 16.0,
        "sanitation" => 5.0,
        "errand" => 20.0,
        "health" => 4.0,
        _ => 24.0,
    };
    let hours = if rng.chance(0.04) {
        rng.between(5.0, 12.0) * 24.0
    } else {
        rng.exponential(mean_hours) + 0.5
    };
    SignedDuration::from_secs((hours * HOUR as f64) as i64)
}

/// Work waits on the resident (not at home, a part to buy) for a day or three.
pub const HOLDS: f64 = 0.03;
pub fn hold_for(rng: &mut Rng) -> SignedDuration {
    SignedDuration::from_hours(rng.between(20.0, 72.0) as i64)
}

/// Hours of service recorded on completion, in half hours.
pub fn hours(rng: &mut Rng, category: &str) -> f64 {
    let mean = match category {
        "elderly_care" => 2.0,
        "repair" => 1.5,
        "errand" => 1.0,
        _ => 1.2,
    };
    ((rng.exponential(mean) * 2.0).round() / 2.0).clamp(0.5, 8.0)
}

/// What a resident does with completed work: confirms and rates it, sends it back, or
/// never gets round to it (it closes by itself after three working days).
pub enum Verdict {
    Confirm(u8),
    Reopen,
    Leave,
}

pub fn verdict(rng: &mut Rng) -> Verdict {
    match rng.weighted(&[0.72, 0.03, 0.25]) {
        0 => Verdict::Confirm([5, 4, 3, 2, 1][rng.weighted(&[0.62, 0.25, 0.08, 0.03, 0.02])]),
        1 => Verdict::Reopen,
        _ => Verdict::Leave,
    }
}

/// Residents answer within the day, mostly.
pub fn resident_answers_after(rng: &mut Rng) -> SignedDuration {
    SignedDuration::from_secs((rng.exponential(6.0) * HOUR as f64) as i64 + 10 * MINUTE)
}

/// Whole minutes: people act on the minute, and a minute's acts across a community share
/// their instant.
pub fn minute(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(5 * MINUTE)).unwrap_or(t)
}

/// What residents write, by category.
pub fn describe(category: &str, rng: &mut Rng) -> &'static str {
    let choices: &[&str] = match category {
        "elderly_care" => &[
            "想请人陪我去医院复查",
            "腿脚不便，需要有人帮忙买菜",
            "独居，想请人上门看看",
        ],
        "repair" => &[
            "楼道灯坏了，晚上看不见",
            "楼道扶手松了",
            "灭火器过期了需要更换",
            "单元门关不上",
        ],
        "sanitation" => &[
            "垃圾桶满了好几天没人清",
            "楼道里堆满杂物",
            "小区门口积水很深",
        ],
        "errand" => &["帮忙办理养老金资格认证", "代缴水电费", "帮忙去社保局交材料"],
        "health" => &["血压计好像不准，想请医生看看", "想预约义诊量血糖"],
        _ => &["租房合同有纠纷，想咨询一下", "想咨询遗嘱怎么写"],
    };
    choices[rng.below(choices.len())]
}
