//! Request categories: which workflow serves each, the skills it needs, its SLA overrides,
//! points and automatic dispatch; and how those reach the workflows they name.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::super::model::*;
use super::super::raw::*;
use super::{Cx, label, targets, valid_name};

/// `declared` holds every workflow id some file declares, valid or not: a category of a
/// workflow that failed validation is not reported again.
pub(super) fn category(
    cx: &mut Cx,
    code: &Name,
    raw: &RawCategory,
    catalog: &Catalog,
    declared: &HashSet<String>,
) -> Option<Category> {
    let before = cx.count();
    if !valid_name(code.get_ref()) {
        cx.err(
            code.span(),
            format!(
                "category code {:?} must be lowercase letters, digits, '-' or '_'",
                code.get_ref()
            ),
        );
    }
    let wf_id = raw.workflow.get_ref();
    let wf = catalog.latest(wf_id);
    if wf.is_none() && !declared.contains(wf_id) {
        cx.err(
            raw.workflow.span(),
            format!(
                "category {:?} names unknown workflow {wf_id:?}",
                code.get_ref()
            ),
        );
    }
    if let (Some(wf), Some(n)) = (wf, &raw.auto_dispatch)
        && *n.get_ref() > 0
        && wf.auto_dispatch.is_none()
    {
        cx.err(
            n.span(),
            format!(
                "category {:?} asks for automatic dispatch, but workflow {wf_id:?} has no [auto_dispatch] section",
                code.get_ref()
            ),
        );
    }
    // A sensitive request is never shown to the whole community.
    let on_a_wall = catalog
        .workflows
        .values()
        .any(|w| &w.id == wf_id && w.states.iter().any(|s| s.wall));
    if raw.sensitive && on_a_wall {
        cx.err(
            raw.workflow.span(),
            format!(
                "category {:?} is sensitive, but workflow {wf_id:?} puts requests on the community's wall",
                code.get_ref()
            ),
        );
    }
    // Versions without the section simply make no follow-up (requests still running on an
    // older version); a workflow none of whose versions has one is a mistake.
    let any_follow_up = catalog
        .workflows
        .values()
        .any(|w| &w.id == wf_id && w.follow_up.is_some());
    if let (Some(_), Some(f)) = (wf, &raw.follow_up)
        && *f.get_ref()
        && !any_follow_up
    {
        cx.err(
            f.span(),
            format!(
                "category {:?} asks for a follow-up, but no version of workflow {wf_id:?} has a [follow_up] section",
                code.get_ref()
            ),
        );
    }
    let mut sla = BTreeMap::new();
    for (clock, t) in &raw.sla {
        if let Some(wf) = wf
            && !wf.clocks.iter().any(|c| &c.name == clock.get_ref())
        {
            cx.err(
                clock.span(),
                format!(
                    "category {:?} overrides unknown SLA clock {:?} of workflow {wf_id:?}",
                    code.get_ref(),
                    clock.get_ref()
                ),
            );
        }
        if let Some(t) = targets(cx, t.get_ref()) {
            sla.insert(clock.get_ref().clone(), t);
        }
    }
    (cx.count() == before).then(|| Category {
        code: code.get_ref().clone(),
        label: label(Some(&raw.label), code.get_ref()),
        workflow: wf_id.clone(),
        skills: raw.skills.clone(),
        icon: raw.icon.clone(),
        points: raw.points,
        sla,
        auto_dispatch: raw.auto_dispatch.as_ref().map_or(0, |n| *n.get_ref()),
        follow_up: raw.follow_up.as_ref().is_some_and(|f| *f.get_ref()),
        sensitive: raw.sensitive,
    })
}

/// Categories may override SLA targets and carry points and automatic dispatch; each
/// workflow version gets the overrides for the clocks it has.
pub(super) fn apply_category_targets(catalog: &mut Catalog) {
    let categories: Vec<Category> = catalog.categories.values().cloned().collect();
    for wf in catalog.workflows.values_mut() {
        let wf = Arc::get_mut(wf).expect("catalog workflows are not shared while loading");
        for c in categories.iter().filter(|c| c.workflow == wf.id) {
            wf.category_rules.insert(
                c.code.clone(),
                CategoryRules {
                    points: c.points,
                    auto_dispatch: if wf.auto_dispatch.is_some() {
                        c.auto_dispatch
                    } else {
                        0
                    },
                    follow_up: c.follow_up && wf.follow_up.is_some(),
                },
            );
            for (clock, targets) in &c.sla {
                if let Some(ix) = wf.clocks.iter().position(|k| &k.name == clock) {
                    let n = wf.clocks.len();
                    wf.category_targets
                        .entry(c.code.clone())
                        .or_insert_with(|| vec![None; n])[ix] = Some(*targets);
                }
            }
        }
    }
}
