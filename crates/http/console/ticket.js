// A request: as a card in a list, and as a page with its clocks, the caller's actions (from
// the API's `allowed_actions`, so the page offers exactly what the API allows) and its history.

import { get, post, upload, imageUrl } from './api.js';
import { t, label, when, duration } from './i18n.js';
import { h, toast, hideToast, showError, clearError, countdown, urgentClock, shrink, photoInput, busy, fieldProblem } from './ui.js';

/** How much more time a volunteer may ask for (延期), in working time. */
const EXTENSIONS = ['4h', '1wd', '2wd', '3wd', '5wd'];

/** Actions that undo a resident's request: asked twice. */
const ASK_FIRST = new Set(['cancel']);

/** Actions taken seldom, and with care: shown apart from the day's main ones. */
const RARE = new Set(['escalate', 'reopen', 'reject', 'cancel', 'refer', 'unmerge', 'reassign', 'request_extension', 'refuse_extension', 'flare_up']);

/** The version each request reached by this page's own last action: a conflict with that is
 * not someone else's doing. */
const ownVersions = new Map();

function categoryIcon(ctx, ticket) {
  return ctx.categories.get(ticket.category)?.icon || '📋';
}

function holderLine(ticket) {
  if (!ticket.assignee || ticket.terminal) return null;
  const name = ticket.assignee.name || '';
  return ticket.assignee.kind === 'team' ? t('pooled', { name }) : t('coming', { name });
}

/** A request in a list: what, its state in plain words, who is on it, time left. */
export function card(ctx, ticket) {
  const clock = ticket.terminal ? null : urgentClock(ticket);
  return h('li', {},
    h('a', { class: 'card', href: `#/t/${ticket.id}`, dataset: { id: ticket.id } },
      h('span', { class: 'icon', 'aria-hidden': 'true' }, categoryIcon(ctx, ticket)),
      h('span', { class: 'body' },
        h('span', { class: 'title' },
          label(ticket.category_label) || ticket.category,
          ticket.urgency === 'urgent' ? h('span', { class: 'badge urgent' }, t('urgentBadge')) : null),
        h('span', { class: 'desc' }, ticket.description),
        holderLine(ticket) ? h('span', { class: 'holder' }, holderLine(ticket)) : null,
        clock ? h('span', {}, countdown(clock)) : null),
      h('span', { class: `state s-${ticket.state}` }, label(ticket.state_label))));
}

/** The full page of one request. */
export async function detail(ctx, id) {
  const [ticket, events, photos] = await Promise.all([
    get(`/api/v1/tickets/${id}`),
    get(`/api/v1/tickets/${id}/events`),
    get(`/api/v1/tickets/${id}/photos`),
  ]);
  const workflow = ctx.workflows.get(ticket.workflow);
  const by = urgentClock(ticket);
  const facts = [
    [t('requester'), ticket.requester.name + (ticket.requester.phone ? ` · ${ticket.requester.phone}` : '')
      + (ticket.requester.withheld ? `（${t('phoneWithheld')}）` : '')
      + (ticket.hotline?.confidential && ticket.requester.id !== NIL ? ` · ${t('confidentialKept')}` : '')],
    ...hotlineFacts(ticket.hotline),
    [t('created'), when(ticket.created_at)],
    [t('channel'), t(`ch_${ticket.channel}`) + (ticket.proxy_id ? ` · ${t('proxied')}` : '')],
    holderLine(ticket) ? [t('assignee'), holderLine(ticket) + (by?.due ? ` · ${t('by', { when: when(by.due) })}` : '')] : null,
    ticket.rating ? [t('rating'), '★'.repeat(ticket.rating)] : null,
    ticket.paid ? [t('paidWith'), t(`paid_${ticket.paid.state}`, { n: ticket.paid.hours })] : null,
    ticket.extension ? [t('extensionAsked'), t('extensionPending', { d: duration(ticket.extension.by_secs), reason: ticket.extension.reason })] : null,
    ticket.follow_up ? [t('followUp'), ticket.follow_up.done_at ? t('followUpDone', { when: when(ticket.follow_up.done_at) }) : t('followUpDue')] : null,
    ticket.parent ? [t('mergedInto'), link(ticket.parent)] : null,
    ticket.duplicates.length ? [t('mergedHere'), ticket.duplicates.map((d, i) => [i ? '、' : '', link(d)])] : null,
  ].filter(Boolean);
  return h('article', { class: 'ticket', dataset: { state: ticket.state } },
    h('a', { class: 'back', href: '#/' }, '← ', t('back')),
    h('h2', {},
      h('span', { 'aria-hidden': 'true' }, categoryIcon(ctx, ticket), ' '),
      label(ticket.category_label) || ticket.category, ' ',
      h('span', { class: `state s-${ticket.state}` }, label(ticket.state_label)),
      ticket.urgency === 'urgent' ? h('span', { class: 'badge urgent' }, t('urgentBadge')) : null),
    h('p', { class: 'description' }, ticket.description),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    gallery(photos),
    clocks(ticket),
    coHandlers(ticket),
    actions(ctx, ticket),
    history(ticket, events, workflow));
}

/** Who asked, when the server keeps it from this reader (a confidential hotline caller). */
const NIL = '00000000-0000-0000-0000-000000000000';

/** A city hotline order's own terms (12345): its number and type, the platform's deadline, how often it was chased. */
function hotlineFacts(order) {
  if (!order) return [];
  return [
    [t('hotlineOrder'), `${order.order_number} · ${label(order.request_type_label)}`],
    order.platform_deadline ? [t('platformDeadline'), when(order.platform_deadline)] : null,
    order.reminders || order.supervisions ? [t('hotlineChased'), t('chasedCount', { r: order.reminders, s: order.supervisions })] : null,
  ].filter(Boolean);
}

/** Another request, by the start of its id. */
function link(id) {
  return h('a', { href: `#/t/${id}` }, `${t('openIt')} #${id.slice(-6)}`);
}

/** The co-handlers beside the lead (协办): each one's deadline and what they reported. */
function coHandlers(ticket) {
  if (!ticket.co_handlers.length) return null;
  const status = (c) => {
    if (c.note) return t('coReported', { note: c.note });
    if (c.closed) return t('coNotReported');
    if (c.breached) return t('coBreached');
    return t('coDue', { when: when(c.due) });
  };
  return h('section', { class: 'co-handlers' },
    h('h3', {}, t('coHandlers')),
    h('ul', {}, ticket.co_handlers.map((c) => h('li', { dataset: { id: c.id } },
      h('strong', {}, c.name), ' ',
      h('span', { class: c.breached && !c.note ? 'countdown breach' : 'muted' }, status(c))))));
}

/** The request's photos; each is fetched with the token, then shown. */
function gallery(photos) {
  if (!photos.length) return null;
  const count = {};
  return h('section', { class: 'photos' },
    h('h3', {}, t('photos')),
    h('ul', {}, photos.map((p) => {
      count[p.stage] = (count[p.stage] || 0) + 1;
      const img = h('img', { alt: t('photoAlt', { stage: t(`stage_${p.stage}`), n: count[p.stage] }), dataset: { stage: p.stage } });
      // Once shown, the blob is let go (pages are redrawn as they change).
      img.addEventListener('load', () => URL.revokeObjectURL(img.src), { once: true });
      imageUrl(p.url).then((src) => { img.src = src; }, () => {});
      return h('li', {}, img);
    })));
}

function clocks(ticket) {
  const shown = ticket.clocks.filter((c) => c.status !== 'not_started');
  if (!shown.length) return null;
  return h('section', { class: 'clocks' },
    h('h3', {}, t('clocks')),
    h('ul', {}, shown.map((c) => h('li', {},
      h('span', {}, label(c.label)),
      c.status === 'stopped'
        ? h('span', { class: c.breached ? 'countdown breach' : 'countdown' }, c.breached ? t('late') : '✓')
        : countdown(c),
      c.due ? h('span', { class: 'due' }, t('by', { when: when(c.due) })) : null,
      c.original_due ? h('span', { class: 'due was' }, t('wasDue', { when: when(c.original_due) })) : null))));
}

function actions(ctx, ticket) {
  const panel = h('div', { class: 'panel' });
  const buttons = ticket.allowed_actions.map((a) =>
    h('button', {
      type: 'button',
      class: RARE.has(a.action) ? 'secondary rare' : 'primary',
      dataset: { action: a.action },
      onclick: () => {
        clearError();
        if (!a.requires.length && !ASK_FIRST.has(a.action)) return act(ctx, ticket, a, {}, null, buttons);
        // The toast of the last action would cover the form: it has been read.
        hideToast();
        panel.replaceChildren(form(ctx, ticket, a, buttons));
        // The form's first required field when it is there now; else its heading (a list of
        // candidates still loading, an optional note: the phone's keyboard stays shut).
        const first = panel.querySelector('textarea[required], select[required], input[type=number][required]');
        (first || panel.querySelector('h4')).focus();
      },
    }, label(a.label)));
  const main = buttons.filter((b) => !b.classList.contains('rare'));
  const rare = buttons.filter((b) => b.classList.contains('rare'));
  return h('section', { class: 'actions' },
    h('h3', {}, t('actions')),
    buttons.length ? h('div', { class: 'buttons' }, main, rare.length ? h('span', { class: 'rare-group' }, rare) : null) : h('p', { class: 'muted' }, t('noActions')),
    panel);
}

/** Takes an action once: every button of the page waits while it is on its way. */
async function act(ctx, ticket, action, fields, photo, buttons = []) {
  const submit = document.querySelector('.action-form button[type=submit]');
  await busy([...buttons, submit], async () => {
    try {
      // The photo first: if it cannot go, the action waits, and nothing is half done.
      if (photo) await upload(`/api/v1/tickets/${ticket.id}/photos?stage=after`, await shrink(photo));
      const next = await post(`/api/v1/tickets/${ticket.id}/actions/${action.action}`, { version: ticket.version, ...fields });
      ownVersions.set(ticket.id, next.version);
      toast(t('done', { action: label(action.label) }));
      ctx.render(`/t/${next.id}`);
      return true;
    } catch (err) {
      if (err.status !== 409) return showError(err);
      // A lost race or a stale page: say so, and show what is true now (the request itself
      // if the caller may still see it, else their home page). A page behind its own last
      // action was not beaten by anyone.
      const now = await get(`/api/v1/tickets/${ticket.id}`).catch(() => null);
      const mine = now && ownVersions.get(ticket.id) === now.version;
      showError(mine ? new Error(t('errConflictSelf')) : err, { sticky: true });
      if (now) ctx.render(`/t/${ticket.id}`);
      else ctx.go('/');
    }
  });
}

/** The fields an action requires, as a form; submitting it takes the action. */
function form(ctx, ticket, action, buttons) {
  const inputs = {};
  const parts = action.requires.map((field) => {
    switch (field) {
      case 'reason':
      case 'note':
        inputs[field] = h('textarea', { id: `f-${field}`, rows: 3, required: true, maxlength: 2000 });
        return h('p', {}, h('label', { for: `f-${field}` }, t(field)), inputs[field]);
      case 'hours':
        inputs.hours = h('input', { id: 'f-hours', type: 'number', inputmode: 'decimal', min: '0.5', max: '24', step: '0.5', value: '1', required: true });
        return h('p', {}, h('label', { for: 'f-hours' }, t('hoursField')), inputs.hours);
      case 'extend_by':
        inputs.extend_by = h('select', { id: 'f-extend_by', required: true },
          EXTENSIONS.map((span) => h('option', { value: span }, t(`ext_${span}`))));
        return h('p', {}, h('label', { for: 'f-extend_by' }, t('extendBy')), inputs.extend_by);
      case 'rating':
        return stars(inputs);
      case 'contacted':
        // 已联系诉求人: a hotline order's completion tells the platform whether the caller heard.
        inputs.contacted = h('input', { id: 'f-contacted', type: 'checkbox', checked: true });
        return h('p', { class: 'check' }, inputs.contacted, ' ', h('label', { for: 'f-contacted' }, t('contactedField')));
      case 'assignee':
        // A co-handler is a person; a dispatch may also go to a team's pool.
        return picker(ticket, inputs, action.action !== 'add_co_handler');
      case 'parent':
        return parents(ticket, inputs);
      default:
        return null;
    }
  });
  if (action.action === 'complete') {
    const photo = photoInput('f-photo-after', t('photoAfter'));
    inputs.photo = photo.input;
    parts.push(photo.field);
  }
  if (!action.requires.includes('note')) {
    inputs.optionalNote = h('textarea', { id: 'f-optional-note', rows: 2, maxlength: 2000 });
    parts.push(h('p', {}, h('label', { for: 'f-optional-note' }, t('note')), inputs.optionalNote));
  }
  return h('form', {
    class: 'action-form',
    novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const fields = {};
      for (const field of ['reason', 'note']) {
        if (inputs[field]) fields[field] = inputs[field].value.trim();
      }
      if (inputs.optionalNote?.value.trim()) fields.note = inputs.optionalNote.value.trim();
      if (inputs.hours) fields.hours = Number(inputs.hours.value);
      if (inputs.extend_by) fields.extend_by = inputs.extend_by.value;
      if (inputs.contacted) fields.contacted = inputs.contacted.checked;
      if (inputs.rating) {
        const chosen = inputs.rating.querySelector('input:checked');
        if (chosen) fields.rating = Number(chosen.value);
      }
      if (inputs.pick) {
        const chosen = inputs.pick.querySelector('input:checked');
        if (!chosen) return fieldProblem(inputs.pick.querySelector('input'), t('chooseAssignee'));
        fields[chosen.name] = chosen.value;
      }
      if (inputs.parent) {
        const chosen = inputs.parent.querySelector('input:checked');
        if (!chosen) return fieldProblem(inputs.parent.querySelector('input'), t('chooseParent'));
        fields.parent = chosen.value;
      }
      const missing = action.requires.filter((f) => f !== 'assignee' && (fields[f] === undefined || fields[f] === ''));
      if (missing.length) {
        const where = missing[0] === 'rating' ? inputs.rating.querySelector('input') : inputs[missing[0]];
        return fieldProblem(where, t('fill', { what: missing.map((f) => t(f === 'hours' ? 'hoursField' : f)).join('、') }));
      }
      act(ctx, ticket, action, fields, inputs.photo?.files[0], buttons);
    },
  },
  h('h4', { tabindex: '-1' }, label(action.label)),
  parts,
  h('div', { class: 'buttons' },
    h('button', { type: 'submit', class: 'primary' }, t('confirm'), ' ', label(action.label)),
    h('button', { type: 'button', class: 'secondary', onclick: (e) => e.target.closest('.panel').replaceChildren() }, t('cancelAction'))));
}

function stars(inputs) {
  // Five to one, laid out right to left: a checked star lights those before it (CSS `~`).
  const set = h('fieldset', {},
    h('legend', {}, t('rating')),
    h('div', { class: 'stars' }, [5, 4, 3, 2, 1].map((n) => [
      h('input', { type: 'radio', name: 'rating', id: `star-${n}`, value: String(n), required: true }),
      // An outline star until lit, a filled one then: told apart by shape, not colour alone.
      h('label', { for: `star-${n}`, title: t('stars', { n }) },
        h('span', { class: 'off', 'aria-hidden': 'true' }, '☆'),
        h('span', { class: 'on', 'aria-hidden': 'true' }, '★'),
        h('span', { class: 'sr' }, t('stars', { n }))),
    ])));
  inputs.rating = set;
  return set;
}

/** Requests this one may repeat (并单), the same building first: the secretary picks one. */
function parents(ticket, inputs) {
  const box = h('div', { class: 'picker', 'aria-busy': 'true' });
  inputs.parent = box;
  get(`/api/v1/tickets/${ticket.id}/duplicates`).then((found) => {
    box.removeAttribute('aria-busy');
    box.replaceChildren(found.length
      ? h('fieldset', {},
        h('legend', {}, t('parentField')),
        h('ol', { class: 'candidates' }, found.map(({ ticket: p, nearness }, i) => h('li', {},
          h('input', { type: 'radio', name: 'parent', id: `p-${p.id}`, value: p.id, checked: i === 0 }),
          h('label', { for: `p-${p.id}` },
            h('strong', {}, label(p.category_label) || p.category), ' ',
            h('span', { class: 'badge' }, t(`near_${nearness}`)), ' ',
            h('span', { class: `state s-${p.state}` }, label(p.state_label)),
            h('span', { class: 'reasons' }, p.description, ' · ', when(p.created_at)))))))
      : h('p', { class: 'empty' }, t('parentEmpty')));
  }).catch(showError);
  return box;
}

/** Ranked volunteers with the reasons, and (`withTeams`) the team pools: the secretary picks one. */
function picker(ticket, inputs, withTeams = true) {
  const box = h('div', { class: 'picker', 'aria-busy': 'true' });
  inputs.pick = box;
  const teamList = withTeams ? get('/api/v1/teams') : Promise.resolve([]);
  Promise.all([get(`/api/v1/tickets/${ticket.id}/candidates`), teamList]).then(([ranked, teams]) => {
    box.removeAttribute('aria-busy');
    box.replaceChildren(
      h('fieldset', {},
        h('legend', {}, t('candidates')),
        h('ol', { class: 'candidates' }, ranked.map((c, i) => h('li', { class: c.eligible ? '' : 'ineligible' },
          h('input', { type: 'radio', name: 'assignee', id: `c-${c.id}`, value: c.id, checked: i === 0 && c.eligible }),
          h('label', { for: `c-${c.id}` },
            h('strong', {}, c.name), ' ', h('span', { class: 'score' }, `${c.score} ${t('points')}`),
            c.eligible ? null : h('span', { class: 'badge' }, t('ineligible')),
            // Only what moved the score: a reason worth nothing is noise beside the others.
            h('span', { class: 'reasons' }, c.reasons.filter((r) => r.points !== 0).map((r) => h('span', { class: r.points < 0 ? 'minus' : 'plus' },
              `${label({ 'zh-CN': r.text, en: r.text_en })} ${r.points > 0 ? '+' : ''}${r.points}`)))))))),
      teams.length ? h('fieldset', {},
        h('legend', {}, t('teams')),
        teams.map((team) => h('p', {},
          h('input', { type: 'radio', name: 'team', id: `team-${team.id}`, value: team.id }),
          h('label', { for: `team-${team.id}` }, team.name)))) : null);
    // One choice across both lists: a person or a team.
    box.addEventListener('change', (e) => {
      box.querySelectorAll('input[type=radio]').forEach((r) => { if (r !== e.target) r.checked = false; });
    });
  }).catch(showError);
  return box;
}

function history(ticket, events, workflow) {
  const clockName = (name) => label(ticket.clocks.find((c) => c.name === name)?.label) || name || '';
  // Newest first: what happened last is what a person asks about.
  return h('section', { class: 'history' },
    h('h3', {}, t('audit')),
    h('ol', { reversed: true }, [...events].reverse().map((e) => {
      const actionLabel = workflow?.action_labels?.[e.kind];
      const what = actionLabel
        ? label(actionLabel)
        : t(`ev_${e.kind}`, { clock: clockName(e.data.clock), level: t(`role_${e.data.to || ''}`) });
      const extra = [
        e.data.reason, e.data.note, e.data.rating ? '★'.repeat(e.data.rating) : null,
        e.kind === 'clock_extended' ? t('newDue', { when: when(e.data.due) }) : null,
        ...(e.kind === 'co_handling_closed' ? e.data.notes.map((n) => n.note).filter(Boolean) : []),
      ].filter(Boolean);
      // Internal notes reach only those who handle the request; marked so nobody reads one
      // out to the resident.
      return h('li', e.data.internal ? { class: 'internal' } : {},
        h('time', { datetime: e.at }, when(e.at)), ' ',
        h('span', { class: 'actor' }, e.actor_name ? `${e.actor_name}（${t(`role_${e.actor_role}`)}）` : t(`role_${e.actor_role}`)), ' ',
        h('span', { class: 'what' }, what),
        extra.length ? h('span', { class: 'extra' }, extra.join(' · ')) : null);
    })));
}
