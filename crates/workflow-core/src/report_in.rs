//! 双报到: a party member employed elsewhere (在职党员) reports in (报到) to the community where
//! they live, takes a post (岗位) from the community's list, and serves there; each quarter
//! the community tells each member's work unit what its members did, on a feedback sheet
//! (反馈单) its office signs off. The rules of it: what a report-in must say, which periods a
//! sheet covers, and how a sheet is made from the service records, so that every sheet, the
//! office's live view and its frozen copy alike, is made one way.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use uuid::Uuid;

use crate::access::Refusal;

/// The longest a work unit's, a party organisation's or a newcomer's name may be.
pub const NAME_MAX: usize = 100;
/// The longest a phone number may be, as typed.
pub const PHONE_MAX: usize = 30;

/// Where a report-in stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Asked; the community office has not decided.
    Pending,
    /// The office took the member in: this is their profile in the community.
    Approved,
    Declined,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Pending, Status::Approved, Status::Declined];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a member says when reporting in: where they work, the party organisation their
/// membership is kept by, the post they choose, and what they can do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form {
    pub work_unit: String,
    pub party_org: String,
    pub post: String,
    pub skills: Vec<String>,
}

impl Form {
    /// The form as kept: names trimmed and present, the post one of the community's, the
    /// skills from the shared vocabulary (each once).
    pub fn checked(self, posts: &[String], vocabulary: &BTreeSet<String>) -> Result<Form, Refusal> {
        let work_unit = named("work_unit", &self.work_unit)?;
        let party_org = named("party_org", &self.party_org)?;
        let post = self.post.trim().to_owned();
        if !posts.contains(&post) {
            return Err(Refusal::Invalid {
                field: "post",
                reason: "is not one of the community's posts",
            });
        }
        let mut skills: Vec<String> = Vec::new();
        for s in self.skills {
            if !vocabulary.contains(&s) {
                return Err(Refusal::Invalid {
                    field: "skills",
                    reason: "names a skill no category asks for",
                });
            }
            if !skills.contains(&s) {
                skills.push(s);
            }
        }
        Ok(Form {
            work_unit,
            party_org,
            post,
            skills,
        })
    }
}

/// A newcomer's name and phone, from the public form (no sign-in): both needed, so that the
/// office can reach them and match them to a person it already has.
pub fn newcomer(name: &str, phone: &str) -> Result<(String, String), Refusal> {
    let name = named("name", name)?;
    let phone = phone.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if digits < 7
        || phone.chars().count() > PHONE_MAX
        || !phone
            .chars()
            .all(|c| c.is_ascii_digit() || " -+()".contains(c))
    {
        return Err(Refusal::Invalid {
            field: "phone",
            reason: "is a phone number: at least 7 digits, at most 30 characters",
        });
    }
    Ok((name, phone.to_owned()))
}

fn named(field: &'static str, s: &str) -> Result<String, Refusal> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Refusal::Missing {
            field,
            reason: "say it in words",
        });
    }
    if s.chars().count() > NAME_MAX {
        return Err(Refusal::Invalid {
            field,
            reason: "is at most 100 characters",
        });
    }
    Ok(s.to_owned())
}

/// A period a sheet covers: `2026Q3` (a calendar quarter, the practice's), or the first and
/// last day (inclusive). `None`: neither.
pub fn quarter(s: &str) -> Option<(Date, Date)> {
    let (year, q) = s.split_once(['Q', 'q'])?;
    let year: i16 = year.parse().ok()?;
    let q: i8 = q.parse().ok()?;
    if !(1..=4).contains(&q) {
        return None;
    }
    let first = Date::new(year, (q - 1) * 3 + 1, 1).ok()?;
    let last = first
        .checked_add(jiff::Span::new().months(3))
        .ok()?
        .yesterday()
        .ok()?;
    Some((first, last))
}

/// The calendar quarter a day is in: its first and last day.
pub fn quarter_of(day: Date) -> (Date, Date) {
    let q = (day.month() - 1) / 3 + 1;
    quarter(&format!("{}Q{q}", day.year())).expect("a quarter of a valid date is valid")
}

/// A member the community took in, as a sheet names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    pub person: Uuid,
    pub name: String,
    pub work_unit: String,
    pub post: String,
}

/// A service record as a sheet counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub person: Uuid,
    /// The day, in the deployment's zone.
    pub day: String,
    /// What was done, in words.
    pub content: String,
    pub minutes: i64,
    pub rating: Option<i64>,
    /// A correction adds (or takes away) minutes; it is not a service of its own.
    pub correction: bool,
}

/// One member on a sheet, with what they did in the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub member: Reported,
    pub services: Vec<Service>,
    pub minutes: i64,
    /// Services, corrections not counted.
    pub count: i64,
}

/// A work unit's feedback sheet for a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sheet {
    pub work_unit: String,
    pub lines: Vec<Line>,
    pub minutes: i64,
    pub services: i64,
}

/// The sheets of a community's period, one per work unit (by name), each member of it once
/// with their services in the order given; a member with none is on their sheet with zero.
pub fn sheets(reported: &[Reported], services: &[Service]) -> Vec<Sheet> {
    let mut by_person: BTreeMap<Uuid, Vec<&Service>> = BTreeMap::new();
    for s in services {
        by_person.entry(s.person).or_default().push(s);
    }
    let mut units: BTreeMap<&str, Vec<Line>> = BTreeMap::new();
    for m in reported {
        let theirs = by_person.get(&m.person).map(Vec::as_slice).unwrap_or(&[]);
        units.entry(&m.work_unit).or_default().push(Line {
            member: m.clone(),
            services: theirs.iter().map(|s| (*s).clone()).collect(),
            minutes: theirs.iter().map(|s| s.minutes).sum(),
            count: theirs.iter().filter(|s| !s.correction).count() as i64,
        });
    }
    units
        .into_iter()
        .map(|(unit, lines)| Sheet {
            work_unit: unit.to_owned(),
            minutes: lines.iter().map(|l| l.minutes).sum(),
            services: lines.iter().map(|l| l.count).sum(),
            lines,
        })
        .collect()
}

/// The members who reported in and did no service in the period, for the office.
pub fn idle(sheets: &[Sheet]) -> Vec<&Reported> {
    sheets
        .iter()
        .flat_map(|s| &s.lines)
        .filter(|l| l.count == 0)
        .map(|l| &l.member)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> BTreeSet<String> {
        ["elderly_care".to_owned()].into()
    }

    #[test]
    fn a_form_names_a_post_of_the_community_and_known_skills() {
        let posts = vec!["助老".to_owned()];
        let form = Form {
            work_unit: " 区税务局 ".into(),
            party_org: "区税务局机关党支部".into(),
            post: "助老".into(),
            skills: vec!["elderly_care".into(), "elderly_care".into()],
        };
        let kept = form.clone().checked(&posts, &vocabulary()).unwrap();
        assert_eq!(kept.work_unit, "区税务局");
        assert_eq!(kept.skills, ["elderly_care"]);
        let other_post = Form {
            post: "楼栋长".into(),
            ..form.clone()
        };
        assert!(matches!(
            other_post.checked(&posts, &vocabulary()),
            Err(Refusal::Invalid { field: "post", .. })
        ));
        let no_unit = Form {
            work_unit: "  ".into(),
            ..form.clone()
        };
        assert!(matches!(
            no_unit.checked(&posts, &vocabulary()),
            Err(Refusal::Missing {
                field: "work_unit",
                ..
            })
        ));
        let unknown_skill = Form {
            skills: vec!["juggling".into()],
            ..form
        };
        assert!(unknown_skill.checked(&posts, &vocabulary()).is_err());
    }

    #[test]
    fn a_newcomer_gives_a_name_and_a_phone_number() {
        assert!(newcomer("王芳", "138 0000 1234").is_ok());
        assert!(newcomer("王芳", "12345").is_err());
        assert!(newcomer("王芳", "call me").is_err());
        assert!(newcomer("", "13800001234").is_err());
    }

    #[test]
    fn quarters_are_calendar_quarters() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(quarter("2026Q1"), Some((d("2026-01-01"), d("2026-03-31"))));
        assert_eq!(quarter("2024q1").unwrap().1, d("2024-03-31"));
        assert_eq!(quarter("2026Q4"), Some((d("2026-10-01"), d("2026-12-31"))));
        assert_eq!(quarter("2026Q5"), None);
        assert_eq!(quarter("2026"), None);
        assert_eq!(quarter_of(d("2026-08-31")), quarter("2026Q3").unwrap());
    }

    #[test]
    fn a_sheet_per_work_unit_with_every_member_and_their_totals() {
        let member = |n: u128, unit: &str| Reported {
            person: Uuid::from_u128(n),
            name: format!("m{n}"),
            work_unit: unit.into(),
            post: "助老".into(),
        };
        let service = |n: u128, minutes: i64, correction: bool| Service {
            person: Uuid::from_u128(n),
            day: "2026-07-01".into(),
            content: "助老".into(),
            minutes,
            rating: Some(5),
            correction,
        };
        let reported = [
            member(1, "税务局"),
            member(2, "税务局"),
            member(3, "第一中学"),
        ];
        let services = [
            service(1, 60, false),
            service(1, -15, true),
            service(3, 90, false),
            // Someone who did not report in: on no sheet.
            service(9, 30, false),
        ];
        let s = sheets(&reported, &services);
        assert_eq!(s.len(), 2);
        let tax = s.iter().find(|s| s.work_unit == "税务局").unwrap();
        assert_eq!((tax.minutes, tax.services, tax.lines.len()), (45, 1, 2));
        let school = s.iter().find(|s| s.work_unit == "第一中学").unwrap();
        assert_eq!((school.minutes, school.services), (90, 1));
        let idle: Vec<_> = idle(&s).iter().map(|m| m.person).collect();
        assert_eq!(idle, [Uuid::from_u128(2)]);
    }
}
