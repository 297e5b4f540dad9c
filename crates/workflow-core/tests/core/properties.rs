//! Random command sequences against the shipped workflows: whatever is tried, no event
//! appears that the definition does not allow, and the ticket always equals its replay.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use uuid::Uuid;
use workflow_core::command::Firing;
use workflow_core::decide::acting_role;
use workflow_core::definition::Field;
use workflow_core::event::EventKind;
use workflow_core::*;

fn catalog() -> &'static Catalog {
    crate::common::catalog()
}

#[derive(Debug, Clone)]
enum Step {
    /// Anyone tries anything with any fields.
    Act {
        who: usize,
        action: usize,
        fields: u8,
    },
    /// An action out of the current state, by someone it admits, with its required fields.
    Guided {
        pick: usize,
        fields: u8,
    },
    FireTimers,
    Wait(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..5, 0usize..32, field_bits()).prop_map(|(who, action, fields)| Step::Act { who, action, fields }),
        6 => (any::<usize>(), 0u8..4).prop_map(|(pick, fields)| Step::Guided { pick, fields }),
        1 => Just(Step::FireTimers),
        2 => (0i64..7_200).prop_map(Step::Wait),
        2 => (0i64..900_000).prop_map(Step::Wait),
    ]
}

/// Mostly no field or exactly one (what real commands carry), sometimes any mix.
fn field_bits() -> impl Strategy<Value = u8> {
    prop_oneof![
        2 => Just(0u8),
        3 => (0u8..6).prop_map(|b| 1 << b),
        1 => Just(0b11),
        1 => any::<u8>(),
    ]
}

fn fields(bits: u8, member: Uuid, team: Uuid) -> Fields {
    let pick = |b: u8| bits & (1 << b) != 0;
    Fields {
        assignee: pick(0).then(|| {
            if pick(1) {
                Assignee::Team(team)
            } else {
                Assignee::Person(member)
            }
        }),
        reason: pick(2).then(|| "原因 reason".to_owned()),
        note: pick(3).then(|| "备注 🙂".to_owned()),
        rating: pick(4).then_some(bits % 7),
        hours: pick(5).then_some(f64::from(bits % 30) / 2.0),
        extend_by: pick(6)
            .then(|| ["4h", "1wd", "0m", "forever"][usize::from(bits % 4)].to_owned()),
        parent: pick(7).then_some(team),
        contacted: None,
    }
}

fn run(
    wf: &Arc<Workflow>,
    category: &str,
    steps: &[Step],
) -> Result<BTreeSet<String>, TestCaseError> {
    let mut visited = BTreeSet::new();
    let team = Uuid::now_v7();
    let actors = [
        Actor::new(Uuid::now_v7(), [Role::Resident]),
        Actor::new(Uuid::now_v7(), [Role::Secretary]),
        Actor::new(Uuid::now_v7(), [Role::Member]).with_teams(vec![team]),
        Actor::new(Uuid::now_v7(), [Role::Member]),
        Actor::new(Uuid::now_v7(), [Role::Community]),
    ];
    let member = actors[2].id;
    let mut now: Timestamp = "2026-02-10T01:00:00Z".parse().unwrap();
    let sub = Submission {
        id: Uuid::now_v7(),
        category: category.into(),
        urgency: Urgency::Normal,
        description: "需要帮助".into(),
        channel: "console".into(),
        requester: actors[0].id,
        community_id: Uuid::nil(),
        branch_id: Uuid::nil(),
        building_id: None,
        hotline: None,
    };
    let first = decide_submission(wf, &actors[0], &sub, now).unwrap();
    let mut history = first.events.clone();
    let mut ticket = first.ticket.clone();
    let mut timers: Vec<Timer> = Vec::new();
    let absorb = |d: &Decision, timers: &mut Vec<Timer>| {
        for c in &d.timers {
            match c {
                TimerChange::Set(t) => {
                    timers.retain(|x| x.key != t.key);
                    timers.push(t.clone());
                }
                TimerChange::Cancel(k) => timers.retain(|x| &x.key != k),
            }
        }
    };
    absorb(&first, &mut timers);
    let actions: Vec<String> = {
        let mut a: Vec<_> = wf.transitions.iter().map(|t| t.action.clone()).collect();
        a.dedup();
        a
    };
    for s in steps {
        let before = ticket.clone();
        let decision = match s {
            Step::Wait(secs) => {
                now = now.checked_add(SignedDuration::from_secs(*secs)).unwrap();
                continue;
            }
            Step::FireTimers => {
                timers.sort_by_key(|t| t.due_at);
                let Some(pos) = timers.iter().position(|t| t.due_at <= now) else {
                    continue;
                };
                let t = timers.remove(pos);
                let f = Firing {
                    key: t.key.clone(),
                    due_at: t.due_at,
                    epoch: t.epoch,
                };
                match decide_firing(wf, &ticket, &f, now).unwrap() {
                    Some(d) => d,
                    None => continue,
                }
            }
            Step::Act { .. } | Step::Guided { .. } => {
                let (actor, act) = match s {
                    Step::Act {
                        who,
                        action,
                        fields: bits,
                    } => (
                        &actors[*who],
                        Act {
                            action: actions[action % actions.len()].clone(),
                            expected_version: ticket.version,
                            fields: fields(*bits, member, team),
                        },
                    ),
                    Step::Guided { pick, fields: bits } => {
                        let state = wf.state_id(&ticket.state).unwrap();
                        let current = &ticket;
                        let options: Vec<_> = wf
                            .transitions_from(state)
                            .flat_map(|t| {
                                actors
                                    .iter()
                                    .filter(move |a| acting_role(t, current, a).is_some())
                                    .map(move |a| (t, a))
                            })
                            .collect();
                        if options.is_empty() {
                            continue;
                        }
                        let (tr, actor) = options[pick % options.len()];
                        let required = |f: Field| tr.requires.contains(f);
                        let f = Fields {
                            assignee: required(Field::Assignee).then(|| {
                                if bits & 1 == 1 {
                                    Assignee::Team(team)
                                } else {
                                    Assignee::Person(member)
                                }
                            }),
                            reason: required(Field::Reason).then(|| "理由".to_owned()),
                            note: required(Field::Note).then(|| "备注".to_owned()),
                            rating: required(Field::Rating).then_some(1 + bits % 5),
                            hours: required(Field::Hours).then_some(1.5),
                            extend_by: required(Field::ExtendBy).then(|| "4h".to_owned()),
                            parent: required(Field::Parent).then_some(team),
                            contacted: required(Field::Contacted).then_some(true),
                        };
                        (
                            actor,
                            Act {
                                action: tr.action.clone(),
                                expected_version: ticket.version,
                                fields: f,
                            },
                        )
                    }
                    _ => unreachable!(),
                };
                match decide(wf, ticket.clone(), actor, &act, now) {
                    Ok(d) => {
                        // The definition allows it: from this state, for this actor.
                        let from = wf.state_id(&before.state).unwrap();
                        let tr = wf.transition(from, &act.action);
                        prop_assert!(tr.is_some(), "{} from {}", act.action, before.state);
                        prop_assert!(acting_role(tr.unwrap(), &before, actor).is_some());
                        d
                    }
                    Err(_) => continue,
                }
            }
        };
        for e in &decision.events {
            if let EventKind::Transitioned {
                action, from, to, ..
            } = &e.kind
            {
                let sid = wf.state_id(from).unwrap();
                let tr = wf.transition(sid, action);
                prop_assert!(
                    tr.is_some(),
                    "event {action} from {from} is not in the workflow"
                );
                let expected_to = tr
                    .unwrap()
                    .to
                    .map_or(from.as_str(), |s| wf.state(s).name.as_str());
                prop_assert_eq!(expected_to, to.as_str());
            }
        }
        prop_assert_eq!(decision.expected_version, before.version);
        history.extend(decision.events.iter().cloned());
        absorb(&decision, &mut timers);
        ticket = decision.ticket;
        prop_assert_eq!(
            &Ticket::replay(&history).unwrap(),
            &ticket,
            "replay equals projection"
        );
        prop_assert_eq!(ticket.version, history.len() as u64);
        visited.insert(ticket.state.clone());
    }
    Ok(visited)
}

/// The walk above is only worth something if it gets somewhere: across a few thousand random
/// sequences, every state of every shipped workflow is reached.
#[test]
fn random_walks_reach_every_state() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let c = catalog();
    for (id, category) in [
        ("community-service", "repair"),
        ("micro-wish", "micro_wish"),
        ("dispute-mediation", "mediation"),
    ] {
        let wf = c.latest(id).unwrap();
        let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let mut runner = TestRunner::new_with_rng(Config::with_cases(1), rng);
        let strategy = proptest::collection::vec(step(), 120);
        let mut seen = BTreeSet::new();
        for _ in 0..2000 {
            let steps = strategy.new_tree(&mut runner).unwrap().current();
            seen.extend(run(wf, category, &steps).unwrap());
        }
        let all: BTreeSet<String> = wf.states.iter().map(|s| s.name.clone()).collect();
        let missing: Vec<_> = all.difference(&seen).collect();
        assert!(missing.is_empty(), "{id}: never reached {missing:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn community_service_never_leaves_its_definition(steps in proptest::collection::vec(step(), 1..60)) {
        let c = catalog();
        run(c.latest("community-service").unwrap(), "repair", &steps)?;
    }

    #[test]
    fn micro_wishes_never_leave_their_definition(steps in proptest::collection::vec(step(), 1..40)) {
        let c = catalog();
        run(c.latest("micro-wish").unwrap(), "micro_wish", &steps)?;
    }

    #[test]
    fn mediations_never_leave_their_definition(steps in proptest::collection::vec(step(), 1..40)) {
        let c = catalog();
        run(c.latest("dispute-mediation").unwrap(), "mediation", &steps)?;
    }
}
