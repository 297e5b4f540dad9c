//! Dispatch ranking on a fixture community: the expected order and reasons for several
//! requests, and ties broken the same way every time.

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::dispatch::{Need, Place, Ranked, Reason, Volunteer, best, rank};

/// 荷花塘社区: two grids; grid 1 holds compound A (buildings 1 and 2), grid 2 compound B
/// (building 3).
struct Tree {
    community: Uuid,
    grid1: Uuid,
    grid2: Uuid,
    compound_a: Uuid,
    compound_b: Uuid,
    b1: Uuid,
    b2: Uuid,
    b3: Uuid,
}

impl Tree {
    fn new() -> Tree {
        let id = |n: u128| Uuid::from_u128(0x1000 + n);
        Tree {
            community: id(1),
            grid1: id(2),
            grid2: id(3),
            compound_a: id(4),
            compound_b: id(5),
            b1: id(6),
            b2: id(7),
            b3: id(8),
        }
    }

    fn building(&self, b: Uuid) -> Place {
        let (compound, grid) = if b == self.b3 {
            (self.compound_b, self.grid2)
        } else {
            (self.compound_a, self.grid1)
        };
        Place {
            building: Some(b),
            compound: Some(compound),
            grid: Some(grid),
            community: Some(self.community),
        }
    }
}

fn now() -> Timestamp {
    "2026-06-01T02:00:00Z".parse().unwrap()
}

fn volunteer(n: u128, name: &str, skills: &[&str], home: Option<Place>) -> Volunteer {
    Volunteer {
        id: Uuid::from_u128(n),
        name: name.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        home,
        open: 0,
        max_open: 5,
        available: true,
        away_until: None,
        recent_declines: 0,
        recent_expiries: 0,
        ratings: 0,
        rating_sum: 0,
    }
}

/// The fixture: who they are, where they live, what they carry.
fn members(t: &Tree) -> Vec<Volunteer> {
    let mut wang = volunteer(1, "王师傅", &["repair"], Some(t.building(t.b1)));
    wang.open = 4;
    let mut zhao = volunteer(2, "赵师傅", &["repair"], Some(t.building(t.b3)));
    zhao.ratings = 4;
    zhao.rating_sum = 19; // 4.8 stars
    let mut li = volunteer(3, "李阿姨", &["elderly_care"], Some(t.building(t.b2)));
    li.recent_declines = 2;
    let mut liu = volunteer(
        4,
        "刘医生",
        &["medical", "elderly_care"],
        Some(t.building(t.b1)),
    );
    liu.away_until = Some("2026-06-10T00:00:00Z".parse().unwrap());
    let mut chen = volunteer(5, "陈师傅", &["repair"], Some(t.building(t.b2)));
    chen.open = 5; // at the maximum
    let mut zhou = volunteer(6, "周阿姨", &["elderly_care"], None);
    zhou.recent_expiries = 1;
    zhou.ratings = 3;
    zhou.rating_sum = 7; // 2.3 stars
    vec![wang, zhao, li, liu, chen, zhou]
}

fn order(r: &[Ranked]) -> Vec<(&str, i32, bool)> {
    r.iter()
        .map(|c| (c.name.as_str(), c.score, c.eligible))
        .collect()
}

fn reasons<'a>(r: &'a [Ranked], name: &str) -> Vec<&'a Reason> {
    r.iter()
        .find(|c| c.name == name)
        .unwrap()
        .reasons
        .iter()
        .map(|(r, _)| r)
        .collect()
}

#[test]
fn a_repair_in_building_one() {
    let t = Tree::new();
    let skills = ["repair".to_string()];
    let need = Need {
        skills: &skills,
        place: t.building(t.b1),
        tried: &[],
        requester: Uuid::nil(),
        now: now(),
    };
    let r = rank(&need, &members(&t));
    assert_eq!(
        order(&r),
        vec![
            // Skill and the same building, though busy: 40 + 30 − 16.
            ("王师傅", 54, true),
            // Skill, well rated, another grid: 40 + 13.
            ("赵师傅", 53, true),
            // No skill, same compound, two declines: 20 − 10.
            ("李阿姨", 10, true),
            // No skill, no home on record, an expiry, poorly rated: −8 − 12.
            ("周阿姨", -20, true),
            // Ineligible, listed last with the reason, by score among themselves: skill,
            // same compound, but full (40); same building but away (30).
            ("陈师傅", 40, false),
            ("刘医生", 30, false),
        ]
    );
    assert!(reasons(&r, "刘医生").contains(&&Reason::Away {
        until: Some("2026-06-10T00:00:00Z".parse().unwrap())
    }));
    assert!(reasons(&r, "陈师傅").contains(&&Reason::Full { open: 5, max: 5 }));
    assert!(reasons(&r, "王师傅").contains(&&Reason::SameBuilding));
    assert!(reasons(&r, "李阿姨").contains(&&Reason::RecentDeclines { count: 2 }));
    assert!(reasons(&r, "赵师傅").contains(&&Reason::Rating {
        tenths: 48,
        count: 4
    }));
    assert_eq!(best(&r), Some(Uuid::from_u128(1)));
    // Every score is the sum of its reasons, and every reason reads in both languages.
    for c in &r {
        assert_eq!(c.score, c.reasons.iter().map(|(_, p)| p).sum::<i32>());
        for (reason, _) in &c.reasons {
            let words = |s: &str| s.to_uppercase();
            assert!(!reason.text(false, words).is_empty() && !reason.text(true, words).is_empty());
        }
    }
}

#[test]
fn elderly_care_in_building_three_skips_who_handed_it_back() {
    let t = Tree::new();
    let skills = ["elderly_care".to_string()];
    let tried = [Uuid::from_u128(3)];
    let need = Need {
        skills: &skills,
        place: t.building(t.b3),
        tried: &tried,
        requester: Uuid::nil(),
        now: now(),
    };
    let r = rank(&need, &members(&t));
    assert_eq!(
        order(&r),
        vec![
            // Skill, well rated, same building (no elderly care skill: 30 + 13).
            ("赵师傅", 43, true),
            ("周阿姨", 20, true),
            ("王师傅", -16, true),
            ("刘医生", 40, false),
            ("李阿姨", 30, false),
            ("陈师傅", -20, false),
        ]
    );
    assert!(reasons(&r, "李阿姨").contains(&&Reason::TriedThis));
    assert!(reasons(&r, "赵师傅").contains(&&Reason::NoSkillMatch));
}

#[test]
fn away_until_a_past_date_is_back_on_duty() {
    let t = Tree::new();
    let skills = ["medical".to_string()];
    let need = Need {
        skills: &skills,
        place: t.building(t.b1),
        tried: &[],
        requester: Uuid::nil(),
        now: "2026-06-11T00:00:00Z".parse().unwrap(),
    };
    let r = rank(&need, &members(&t));
    assert_eq!(r[0].name, "刘医生");
    assert!(r[0].eligible);
}

#[test]
fn ties_fall_to_name_then_id_whatever_the_input_order() {
    let t = Tree::new();
    let mut vs = vec![
        volunteer(9, "乙", &[], Some(t.building(t.b2))),
        volunteer(8, "甲", &[], Some(t.building(t.b2))),
        volunteer(7, "甲", &[], Some(t.building(t.b2))),
    ];
    let need = Need {
        skills: &[],
        place: t.building(t.b1),
        tried: &[],
        requester: Uuid::nil(),
        now: now(),
    };
    // Names in code-point order (乙 U+4E59 before 甲 U+7532), then ids.
    let expected = vec![Uuid::from_u128(9), Uuid::from_u128(7), Uuid::from_u128(8)];
    for _ in 0..3 {
        let r = rank(&need, &vs);
        assert_eq!(r.iter().map(|c| c.id).collect::<Vec<_>>(), expected);
        vs.rotate_left(1);
    }
}

#[test]
fn nobody_eligible_means_no_pick() {
    let t = Tree::new();
    let mut v = volunteer(1, "王师傅", &["repair"], None);
    v.available = false;
    let need = Need {
        skills: &[],
        place: t.building(t.b1),
        tried: &[],
        requester: Uuid::nil(),
        now: now(),
    };
    assert_eq!(best(&rank(&need, &[v])), None);
}

#[test]
fn a_volunteer_is_not_sent_to_their_own_request() {
    let t = Tree::new();
    let skills = ["repair".to_string()];
    let need = Need {
        skills: &skills,
        place: t.building(t.b1),
        tried: &[],
        requester: Uuid::from_u128(1),
        now: now(),
    };
    let r = rank(&need, &members(&t));
    let wang = r.iter().find(|c| c.name == "王师傅").unwrap();
    assert!(!wang.eligible);
    assert!(wang.reasons.iter().any(|(r, _)| *r == Reason::OwnRequest));
    assert_eq!(best(&r), Some(Uuid::from_u128(2)));
}
