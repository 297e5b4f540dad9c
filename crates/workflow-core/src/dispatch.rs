//! Smart dispatch: volunteers ranked for a request, each with the reasons for their place.
//! Pure: the store gathers the facts ([`Volunteer`]), this module weighs them. The secretary
//! sees the same ranking the automatic dispatch follows.

use jiff::Timestamp;
use serde::Serialize;
use uuid::Uuid;

/// Where something is in the org tree (street → community → grid → compound → building).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub building: Option<Uuid>,
    pub compound: Option<Uuid>,
    pub grid: Option<Uuid>,
    pub community: Option<Uuid>,
}

/// What the ranking needs to know about a request.
#[derive(Clone, Debug)]
pub struct Need<'a> {
    /// The skills the request's category asks for (any one matches).
    pub skills: &'a [String],
    pub place: Place,
    /// Who held it and handed it back: not chosen again.
    pub tried: &'a [Uuid],
    /// Who asked: a volunteer is not sent to their own request.
    pub requester: Uuid,
    pub now: Timestamp,
}

/// What the store knows about one volunteer.
#[derive(Clone, Debug, PartialEq)]
pub struct Volunteer {
    pub id: Uuid,
    pub name: String,
    pub skills: Vec<String>,
    pub home: Option<Place>,
    /// Requests they hold now, and the most they take at once.
    pub open: u32,
    pub max_open: u32,
    pub available: bool,
    pub away_until: Option<Timestamp>,
    /// Declined and let expire in the recent window ([`RECENT_DAYS`]).
    pub recent_declines: u32,
    pub recent_expiries: u32,
    /// Ratings of the requests they completed, in the recent window.
    pub ratings: u32,
    pub rating_sum: u32,
}

/// How far back declines, expiries and ratings count.
pub const RECENT_DAYS: i64 = 90;

/// One reason, with what it added to (or took from) the score.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    SkillMatch {
        skills: Vec<String>,
    },
    NoSkillMatch,
    SameBuilding,
    SameCompound,
    SameGrid,
    SameCommunity,
    Load {
        open: u32,
        max: u32,
    },
    Full {
        open: u32,
        max: u32,
    },
    Away {
        until: Option<Timestamp>,
    },
    RecentDeclines {
        count: u32,
    },
    RecentExpiries {
        count: u32,
    },
    /// Average rating in tenths of a star (43 = 4.3), over `count` ratings.
    Rating {
        tenths: u32,
        count: u32,
    },
    FewRatings {
        count: u32,
    },
    TriedThis,
    OwnRequest,
}

impl Reason {
    /// The reason in plain words, Chinese first (`en` for the English page); a skill in the
    /// words `skill` gives it (a code means nothing to a secretary).
    pub fn text(&self, en: bool, skill: impl Fn(&str) -> String) -> String {
        let stars = |t: u32| format!("{}.{}", t / 10, t % 10);
        let skills = |list: &[String], sep: &str| {
            list.iter().map(|s| skill(s)).collect::<Vec<_>>().join(sep)
        };
        match (self, en) {
            (Reason::SkillMatch { skills: list }, false) => {
                format!("技能匹配: {}", skills(list, "、"))
            }
            (Reason::SkillMatch { skills: list }, true) => {
                format!("skill match: {}", skills(list, ", "))
            }
            (Reason::NoSkillMatch, false) => "无对口技能".into(),
            (Reason::NoSkillMatch, true) => "no matching skill".into(),
            (Reason::SameBuilding, false) => "同一楼栋".into(),
            (Reason::SameBuilding, true) => "same building".into(),
            (Reason::SameCompound, false) => "同一小区".into(),
            (Reason::SameCompound, true) => "same compound".into(),
            (Reason::SameGrid, false) => "同一网格".into(),
            (Reason::SameGrid, true) => "same grid".into(),
            (Reason::SameCommunity, false) => "同一社区".into(),
            (Reason::SameCommunity, true) => "same community".into(),
            (Reason::Load { open, max }, false) => format!("在办 {open} 件, 上限 {max} 件"),
            (Reason::Load { open, max }, true) => format!("holds {open} of at most {max}"),
            (Reason::Full { open, max }, false) => format!("已满: 在办 {open} 件, 上限 {max} 件"),
            (Reason::Full { open, max }, true) => format!("full: holds {open} of at most {max}"),
            (Reason::Away { until: Some(u) }, false) => format!("暂不可用, 至 {u}"),
            (Reason::Away { until: Some(u) }, true) => format!("away until {u}"),
            (Reason::Away { until: None }, false) => "暂不可用".into(),
            (Reason::Away { until: None }, true) => "away".into(),
            (Reason::RecentDeclines { count }, false) => format!("近期退单 {count} 次"),
            (Reason::RecentDeclines { count }, true) => format!("declined {count} recently"),
            (Reason::RecentExpiries { count }, false) => format!("近期超时未接 {count} 次"),
            (Reason::RecentExpiries { count }, true) => {
                format!("let {count} expire recently")
            }
            (Reason::Rating { tenths, count }, false) => {
                format!("平均评价 {} 星 ({count} 次)", stars(*tenths))
            }
            (Reason::Rating { tenths, count }, true) => {
                format!("rated {} stars on average ({count})", stars(*tenths))
            }
            (Reason::FewRatings { count }, false) => format!("评价不足 ({count} 次)"),
            (Reason::FewRatings { count }, true) => format!("too few ratings ({count})"),
            (Reason::TriedThis, false) => "已退回过此单".into(),
            (Reason::TriedThis, true) => "handed this request back before".into(),
            (Reason::OwnRequest, false) => "本人的求助".into(),
            (Reason::OwnRequest, true) => "their own request".into(),
        }
    }
}

/// A volunteer's place in the ranking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranked {
    pub id: Uuid,
    pub name: String,
    pub score: i32,
    /// False for someone away, full, who handed this request back, or who asked for it:
    /// listed last, never picked automatically.
    pub eligible: bool,
    /// Each reason with its points.
    pub reasons: Vec<(Reason, i32)>,
}

/// The weights. A matching skill counts most; then nearness (an elderly resident's neighbour
/// can come at once); then load and reliability.
const SKILL: i32 = 40;
const BUILDING: i32 = 30;
const COMPOUND: i32 = 20;
const GRID: i32 = 10;
const FULL_LOAD: i32 = 20;
/// Each recent decline or expiry costs this much, up to four declines or three expiries.
const PER_DECLINE: i32 = 5;
const PER_EXPIRY: i32 = 8;
/// Ratings count from this many on; the average moves the score by 10 points a star around 3.5.
const MIN_RATINGS: u32 = 3;

/// Ranks volunteers for a request: eligible first, then by score, then by name and id, so
/// equal candidates always come out in the same order.
pub fn rank(need: &Need<'_>, volunteers: &[Volunteer]) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = volunteers.iter().map(|v| weigh(need, v)).collect();
    out.sort_by(|a, b| {
        b.eligible
            .cmp(&a.eligible)
            .then(b.score.cmp(&a.score))
            .then_with(|| a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    out
}

/// The first eligible volunteer, if any.
pub fn best(ranked: &[Ranked]) -> Option<Uuid> {
    ranked.iter().find(|r| r.eligible).map(|r| r.id)
}

fn weigh(need: &Need<'_>, v: &Volunteer) -> Ranked {
    let mut reasons = Vec::new();
    let matched: Vec<String> = v
        .skills
        .iter()
        .filter(|s| need.skills.contains(s))
        .cloned()
        .collect();
    if !matched.is_empty() {
        reasons.push((Reason::SkillMatch { skills: matched }, SKILL));
    } else if !need.skills.is_empty() {
        reasons.push((Reason::NoSkillMatch, 0));
    }
    if let Some(home) = &v.home {
        let same = |a: Option<Uuid>, b: Option<Uuid>| a.is_some() && a == b;
        let p = &need.place;
        let near = if same(home.building, p.building) {
            Some((Reason::SameBuilding, BUILDING))
        } else if same(home.compound, p.compound) {
            Some((Reason::SameCompound, COMPOUND))
        } else if same(home.grid, p.grid) {
            Some((Reason::SameGrid, GRID))
        } else if same(home.community, p.community) {
            Some((Reason::SameCommunity, 0))
        } else {
            None
        };
        reasons.extend(near);
    }
    let max = v.max_open.max(1);
    let full = v.open >= v.max_open;
    let load = -(FULL_LOAD * v.open.min(max) as i32) / max as i32;
    reasons.push(match full {
        true => (
            Reason::Full {
                open: v.open,
                max: v.max_open,
            },
            load,
        ),
        false => (
            Reason::Load {
                open: v.open,
                max: v.max_open,
            },
            load,
        ),
    });
    let away = !v.available || v.away_until.is_some_and(|u| u > need.now);
    if away {
        let until = v.away_until.filter(|u| *u > need.now);
        reasons.push((Reason::Away { until }, 0));
    }
    if v.recent_declines > 0 {
        let count = v.recent_declines;
        let p = (-PER_DECLINE * count as i32).max(-4 * PER_DECLINE);
        reasons.push((Reason::RecentDeclines { count }, p));
    }
    if v.recent_expiries > 0 {
        let count = v.recent_expiries;
        let p = (-PER_EXPIRY * count as i32).max(-3 * PER_EXPIRY);
        reasons.push((Reason::RecentExpiries { count }, p));
    }
    if v.ratings >= MIN_RATINGS {
        let tenths = (v.rating_sum * 10 + v.ratings / 2) / v.ratings;
        reasons.push((
            Reason::Rating {
                tenths,
                count: v.ratings,
            },
            tenths as i32 - 35,
        ));
    } else {
        reasons.push((Reason::FewRatings { count: v.ratings }, 0));
    }
    let tried = need.tried.contains(&v.id);
    if tried {
        reasons.push((Reason::TriedThis, 0));
    }
    let own = need.requester == v.id;
    if own {
        reasons.push((Reason::OwnRequest, 0));
    }
    Ranked {
        id: v.id,
        name: v.name.clone(),
        score: reasons.iter().map(|(_, p)| p).sum(),
        eligible: !away && !full && !tried && !own,
        reasons,
    }
}
