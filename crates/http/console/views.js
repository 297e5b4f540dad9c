// The pages of each role: a resident's requests and the form to ask for help, a secretary's
// queue and figures, a volunteer's orders, team pool and hours. Each returns an element.

import { api, get, post, all, upload, askForCode, download } from './api.js';
import { t, label, when } from './i18n.js';
import { h, showError, clearError, toast, urgentClock, shrink, photoInput, fieldProblem, busy } from './ui.js';
import { card } from './ticket.js';
import { reportInPanel, payField } from './volunteers.js';

function list(ctx, tickets, empty) {
  return tickets.length
    ? h('ul', { class: 'cards' }, tickets.map((ticket) => card(ctx, ticket)))
    : h('p', { class: 'empty' }, empty);
}

// ---- resident ------------------------------------------------------------------------------

export async function myRequests(ctx) {
  const page = await get('/api/v1/tickets?limit=50');
  return h('section', {},
    h('div', { class: 'heading' },
      h('h2', {}, t('myRequests')),
      h('a', { class: 'button primary big', href: '#/new' }, '＋ ', t('tabNew'))),
    list(ctx, page.items, t('noRequests')),
    boardLink(ctx));
}

/** The community's public board (晒单): its figures and closed requests, for anyone. */
function boardLink(ctx) {
  return ctx.me.community_id
    ? h('p', { class: 'board-link' }, h('a', { href: `/board/${ctx.me.community_id}` }, t('board')))
    : null;
}

/** A key that makes a retried submission (a double tap, a dropped answer) the same request. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function newRequest(ctx) {
  return requestForm(ctx, null, await payField(ctx));
}

/** The ways a request entered for a resident reaches the proxy. */
const PROXY_CHANNELS = ['visit', 'phone', '12345', 'wechat'];

/** 代办: a volunteer, the branch or the office finds the resident by their phone number and
 * enters the request for them; the resident is the requester and is told. Below the form,
 * the requests the caller entered lately, to follow (the elderly neighbour asks how it goes). */
export async function enterForResident(ctx) {
  const recent = await get('/api/v1/tickets?limit=50');
  const entered = recent.items.filter((i) => i.proxy_id === ctx.me.id);
  const phone = h('input', { id: 'f-resident-phone', type: 'tel', inputmode: 'numeric', autocomplete: 'off', required: true, maxlength: 20 });
  const found = h('div', { class: 'residents', 'aria-live': 'polite' });
  const channel = h('select', { id: 'f-channel' }, PROXY_CHANNELS.map((c) => h('option', { value: c }, t(`ch_${c}`))));
  const find = async () => {
    clearError();
    try {
      const people = await get(`/api/v1/residents?phone=${encodeURIComponent(phone.value.trim())}`);
      found.replaceChildren(people.length
        ? h('fieldset', {}, h('legend', {}, t('enterFor')), people.map((p, i) => h('p', {},
          h('input', { type: 'radio', name: 'resident', id: `r-${p.id}`, value: p.id, checked: i === 0, dataset: { name: p.name } }),
          h('label', { for: `r-${p.id}` }, p.name, p.home_building ? ` · ${p.home_building}` : ''))))
        : h('p', { class: 'empty' }, t('noResident')));
    } catch (err) {
      showError(err);
    }
  };
  const proxy = {
    fields: [
      h('p', {}, h('label', { for: 'f-resident-phone' }, t('residentPhone')), phone,
        h('button', { type: 'button', class: 'secondary', onclick: find }, t('findResident'))),
      found,
      h('p', {}, h('label', { for: 'f-channel' }, t('channelField')), channel),
    ],
    extra: () => {
      const chosen = found.querySelector('input[name=resident]:checked');
      return chosen ? { on_behalf_of: chosen.value, channel: channel.value } : null;
    },
    // Where to start when nobody is chosen yet: the list found, else the number to find by.
    first: () => found.querySelector('input[name=resident]') || phone,
    // The request is the resident's (they and the branch follow it); the proxy is told it
    // went in, and gets a fresh form for the next call.
    done: () => {
      const chosen = found.querySelector('input[name=resident]:checked');
      toast(t('enteredFor', { name: chosen.dataset.name }));
      ctx.render('/enter');
    },
  };
  return h('div', {},
    requestForm(ctx, proxy),
    h('section', { class: 'entered' },
      h('h3', {}, t('enteredByMe')),
      list(ctx, entered, t('enteredNone'))));
}

/** The request form: for oneself, or (`proxy`) for a resident found first; `pay`, where the
 * resident may pay with time bank hours. */
function requestForm(ctx, proxy, pay = null) {
  const key = idempotencyKey();
  const categories = [...ctx.categories.values()];
  const description = h('textarea', { id: 'f-description', rows: 4, required: true, maxlength: 2000, placeholder: t('describeHint') });
  const urgent = h('input', { type: 'checkbox', id: 'f-urgent' });
  const photo = photoInput('f-photo', t('photo'));
  const send = h('button', { type: 'submit', class: 'primary big' }, t('submit'));
  return h('form', {
    class: 'new-request',
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearError();
      if (send.disabled) return;
      const extra = proxy ? proxy.extra() : { channel: 'console' };
      if (!extra) return fieldProblem(proxy.first(), t('chooseResident'));
      const category = e.target.querySelector('input[name=category]:checked')?.value;
      if (!category) return fieldProblem(e.target.querySelector('input[name=category]'), t('chooseCategoryFirst'));
      if (!description.value.trim()) return fieldProblem(description, t('describeFirst'));
      send.disabled = true;
      try {
        const ticket = await post('/api/v1/tickets', {
          category,
          description: description.value.trim(),
          urgency: urgent.checked ? 'urgent' : 'normal',
          ...extra,
          ...(pay ? pay.value() : {}),
        }, { 'Idempotency-Key': key });
        if (!proxy) toast(t('submitted'));
        const file = photo.input.files[0];
        if (file) {
          // The request is in either way; a photo that fails to go is said, not lost silently.
          await upload(`/api/v1/tickets/${ticket.id}/photos`, await shrink(file))
            .catch((err) => showError(new Error(t('photoFailed', { why: err.message })), { sticky: true }));
        }
        if (proxy) proxy.done();
        else ctx.go(`/t/${ticket.id}`);
      } catch (err) {
        showError(err);
        send.disabled = false;
      }
    },
  },
  h('h2', {}, proxy ? t('enterFor') : t('newTitle')),
  proxy ? proxy.fields : null,
  h('fieldset', { class: 'categories' },
    h('legend', {}, t('chooseCategory')),
    categories.map((c) => h('span', { class: 'tile' },
      h('input', { type: 'radio', name: 'category', id: `cat-${c.code}`, value: c.code, required: true }),
      h('label', { for: `cat-${c.code}` }, h('span', { class: 'icon', 'aria-hidden': 'true' }, c.icon), label(c.label))))),
  h('p', {}, h('label', { for: 'f-description' }, t('describe')), description),
  h('p', { class: 'check' }, urgent, h('label', { for: 'f-urgent' }, t('urgent'))),
  photo.field,
  pay ? pay.field : null,
  !proxy && ctx.me.home_building ? h('p', { class: 'muted' }, `${t('place')}：${t('placeHome')} · ${ctx.me.home_building}`) : null,
  send);
}

// ---- secretary -----------------------------------------------------------------------------

/** Open requests of the branch: urgent first, then the nearest deadline. */
export async function queue(ctx) {
  const [tickets, followUps] = await Promise.all([
    all('/api/v1/tickets?open=true'),
    all('/api/v1/tickets?follow_up_due=true'),
  ]);
  const left = (ticket) => urgentClock(ticket)?.remaining_secs ?? Infinity;
  tickets.sort((a, b) =>
    (b.urgency === 'urgent') - (a.urgency === 'urgent') || left(a) - left(b) || a.created_at.localeCompare(b.created_at));
  // 回访: closed requests whose follow-up call is due, oldest first, below the open ones.
  followUps.sort((a, b) => a.follow_up.due_at.localeCompare(b.follow_up.due_at));
  // What needs her now (new, overdue, sent back, more time asked for) above what is in hand.
  const now = tickets.filter(needsTheBranch);
  const rest = tickets.filter((ticket) => !needsTheBranch(ticket));
  return h('section', {},
    h('h2', {}, t('queue')),
    h('section', { class: 'needs-you', 'aria-labelledby': 'needs-you' },
      h('h3', { id: 'needs-you' }, t('needsYou', { n: now.length })),
      list(ctx, now, t('needsYouEmpty'))),
    rest.length ? h('section', { 'aria-labelledby': 'in-hand' },
      h('h3', { id: 'in-hand' }, t('inHand', { n: rest.length })),
      list(ctx, rest, '')) : null,
    !tickets.length ? h('p', { class: 'empty' }, t('queueEmpty')) : null,
    followUps.length ? h('section', { class: 'follow-ups' }, h('h3', {}, t('followUpsDue')), list(ctx, followUps, '')) : null);
}

/** A request the branch must act on now: new, past a deadline, handed back by its
 * volunteer, or waiting for a decision on more time. */
function needsTheBranch(ticket) {
  return ticket.state === 'submitted'
    || ticket.clocks.some((c) => c.breached && c.status !== 'stopped')
    || (ticket.returns > 0 && !ticket.assignee)
    || !!ticket.extension;
}

const percent = (rate) => (rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)}%`);

/** The Mondays of the last `n` weeks, oldest first, as `YYYY-MM-DD` (the phone's calendar). */
function weeks(n) {
  const monday = new Date();
  monday.setHours(0, 0, 0, 0);
  monday.setDate(monday.getDate() - ((monday.getDay() + 6) % 7));
  const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return Array.from({ length: n + 1 }, (_, i) => {
    const d = new Date(monday);
    d.setDate(d.getDate() - 7 * (n - 1 - i));
    return day(d);
  });
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** Requests per week (bars) and 及时率 of the resolution deadline (dots), the last 8 weeks:
 * a picture of the trend, with the numbers for a screen reader. */
async function trend() {
  const bounds = weeks(8);
  const spans = bounds.slice(0, -1).map((from, i) => [from, bounds[i + 1]]);
  const stats = await Promise.all(spans.map(([from, to]) => get(`/api/v1/stats?from=${from}&to=${to}`)));
  const counts = stats.map((s) => s.figures.submitted);
  const rates = stats.map((s) => s.on_time_rate?.resolution ?? null);
  const most = Math.max(1, ...counts);
  const [w, hgt, pad] = [320, 140, 20];
  const step = (w - pad) / spans.length;
  const bars = counts.map((c, i) => svg('rect', {
    x: pad + i * step + 4, y: hgt - pad - (c / most) * (hgt - 2 * pad), width: step - 8,
    height: (c / most) * (hgt - 2 * pad), class: 'bar',
  }));
  const dots = rates.map((r, i) => (r === null ? null : svg('circle', {
    cx: pad + i * step + step / 2, cy: hgt - pad - r * (hgt - 2 * pad), r: 5, class: 'dot',
  }))).filter(Boolean);
  const said = spans.map(([from], i) => t('trendWeek', {
    week: from.slice(5), n: counts[i], rate: rates[i] === null ? '—' : `${Math.round(rates[i] * 100)}%`,
  })).join('；');
  return h('figure', { class: 'trend' },
    h('figcaption', {}, t('trendTitle')),
    svg('svg', { viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': said },
      svg('line', { x1: pad, y1: hgt - pad, x2: w, y2: hgt - pad, class: 'axis' }),
      ...bars, ...dots,
      svg('text', { x: pad, y: hgt - 4, class: 'label' }, spans[0][0].slice(5)),
      svg('text', { x: w - 4, y: hgt - 4, class: 'label', 'text-anchor': 'end' }, spans[spans.length - 1][0].slice(5))),
    h('p', { class: 'legend' },
      h('span', { class: 'key bar-key', 'aria-hidden': 'true' }), t('trendBars'), ' ',
      h('span', { class: 'key dot-key', 'aria-hidden': 'true' }), t('trendDots')));
}

/** The branch's figures for the last 30 days, with bars by category. */
export async function figures(ctx) {
  const [stats, pictured] = await Promise.all([get('/api/v1/stats'), trend()]);
  const f = stats.figures;
  const clockRates = Object.entries(stats.on_time_rate || {});
  const categories = Object.entries(f.categories || {}).sort((a, b) => b[1].submitted - a[1].submitted);
  const most = Math.max(1, ...categories.map(([, c]) => c.submitted));
  const tile = (name, value) => h('div', { class: 'figure' }, h('span', { class: 'value' }, value), h('span', { class: 'name' }, name));
  return h('section', { class: 'figures' },
    h('h2', {}, t('figures'), ' ', h('small', {}, t('last30'))),
    h('div', { class: 'tiles' },
      tile(t('submittedCount'), f.submitted),
      tile(t('closedCount'), f.closed),
      tile(t('openCount'), f.open),
      clockRates.map(([clock, rate]) => tile(`${t('onTime')} · ${clockLabel(ctx, clock)}`, percent(rate))),
      tile(t('satisfaction'), percent(stats.satisfaction_rate)),
      tile(t('ratingAvg'), stats.rating_average ? stats.rating_average.toFixed(1) : '—')),
    h('p', { class: 'means' }, t('ratesMean')),
    pictured,
    h('h3', {}, t('byCategory')),
    categories.length
      ? h('table', { class: 'bars' },
        h('tbody', {}, categories.map(([code, c]) => h('tr', {},
          h('th', { scope: 'row' }, label(ctx.categories.get(code)?.label) || code),
          h('td', {}, bar(c.submitted / most), h('span', { class: 'n' }, `${c.submitted} / ${c.closed}`))))))
      : h('p', { class: 'empty' }, t('noData')),
    boardLink(ctx));
}

// ---- oversight (督单) -------------------------------------------------------------------------

/** The community's overdue requests, as residents' representatives may see them: what, since
 * when, which deadline passed, how far up it went; no names, numbers or addresses. */
export async function oversight(ctx) {
  const items = await get('/api/v1/supervision/overdue?limit=100');
  return h('section', { class: 'oversight' },
    h('h2', {}, t('oversight')),
    h('p', { class: 'muted' }, t('oversightHelp')),
    items.length
      ? h('ul', { class: 'overdue' }, items.map((i) => h('li', { dataset: { id: i.id } },
        h('span', { class: 'title' },
          h('span', { 'aria-hidden': 'true' }, ctx.categories.get(i.category)?.icon || '📋', ' '),
          label(i.category_label) || i.category,
          i.urgency === 'urgent' ? h('span', { class: 'badge urgent' }, t('urgentBadge')) : null),
        h('span', { class: `state s-${i.state}` }, label(i.state_label) || i.state),
        h('span', { class: 'muted' }, t('asked', { when: when(i.asked_at) })),
        i.overdue.map((c) => h('span', { class: 'countdown breach' }, t('dueWas', { clock: label(c.label) || c.clock, when: c.due ? when(c.due) : '' }))),
        i.escalated_to ? h('span', { class: 'badge' }, t('escalatedTo', { level: t(`role_${i.escalated_to}`) })) : null)))
      : h('p', { class: 'empty' }, t('oversightEmpty')),
    boardLink(ctx));
}

/** A bar as wide as `share` of the column (set through CSSOM: the page allows no inline styles). */
function bar(share) {
  const el = h('span', { class: 'meter', 'aria-hidden': 'true' });
  el.style.width = `${Math.round(share * 70)}%`; // room left for the count beside it
  return el;
}

function clockLabel(ctx, name) {
  for (const wf of ctx.workflows.values()) {
    const l = wf.clock_labels?.[name];
    if (l) return label(l);
  }
  return name;
}

// ---- volunteer -----------------------------------------------------------------------------

export async function orders(ctx) {
  const tickets = await all('/api/v1/tickets?assignee=me&open=true');
  return h('section', {}, h('h2', {}, t('orders')), list(ctx, tickets, t('ordersEmpty')));
}

/** Requests waiting in the pools of the volunteer's teams: first to accept gets it. */
export async function pool(ctx) {
  const tickets = (await all('/api/v1/tickets?open=true'))
    .filter((ticket) => ticket.assignee?.kind === 'team' && ctx.me.teams.includes(ticket.assignee.id));
  return h('section', {}, h('h2', {}, t('pool')), list(ctx, tickets, t('poolEmpty')));
}

export async function hours(ctx) {
  const ledger = await get(`/api/v1/members/${ctx.me.id}/ledger`);
  return h('section', { class: 'figures' },
    h('h2', {}, t('hours'), ' ', h('small', {}, t('last30'))),
    h('div', { class: 'tiles' },
      h('div', { class: 'figure' }, h('span', { class: 'value' }, ledger.hours.toFixed(1)), h('span', { class: 'name' }, t('hoursTotal'))),
      h('div', { class: 'figure' }, h('span', { class: 'value' }, ledger.points), h('span', { class: 'name' }, t('pointsTotal')))),
    ledger.entries.length
      ? h('ul', { class: 'ledger' }, ledger.entries.map((e) => h('li', {},
        h('a', { href: `#/t/${e.ticket_id}` }, label(ctx.categories.get(e.category)?.label) || e.category),
        h('span', {}, `${t('hoursValue', { n: (e.minutes / 60).toFixed(1) })} · ${e.points} ${t('points')}`),
        h('time', { datetime: e.at }, when(e.at)),
        e.reason ? h('span', { class: 'extra' }, e.reason) : null)))
      : h('p', { class: 'empty' }, t('ledgerEmpty')),
    certificateForm(ctx),
    await reportInPanel(ctx));
}

/** The identity documents a certificate may name (workflow_core::certificate::ID_KINDS). */
const ID_KINDS = ['resident_id', 'hk_macao_pass', 'taiwan_pass', 'passport', 'foreign_permanent_id'];

/** 志愿服务证明: a certificate of service for a period, asked for here and printed. The
 * identity number is checked by the server and only its last four characters kept. */
function certificateForm(ctx) {
  const today = new Date();
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const from = h('input', { id: 'f-cert-from', type: 'date', value: `${today.getFullYear()}-01-01`, required: true });
  const to = h('input', { id: 'f-cert-to', type: 'date', value: iso(today), required: true });
  const kind = h('select', { id: 'f-cert-kind' }, ID_KINDS.map((k) => h('option', { value: k }, t(`id_${k}`))));
  const number = h('input', { id: 'f-cert-number', type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 24, required: true });
  const volunteerNumber = h('input', { id: 'f-cert-volunteer', type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: 30 });
  const out = h('div', { 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'primary big' }, t('certIssue'));
  return h('section', { class: 'certificates' },
    h('h3', {}, t('certTitle')),
    h('p', { class: 'muted' }, t('certHelp')),
    h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        clearError();
        if (!number.value.trim()) return fieldProblem(number, t('fill', { what: t('certNumber') }));
        await busy(send, async () => {
          try {
            const cert = await post(`/api/v1/members/${ctx.me.id}/certificates`, {
              from: from.value, to: to.value, id_type: kind.value, id_number: number.value,
              volunteer_number: volunteerNumber.value.trim() || undefined,
            });
            number.value = '';
            out.replaceChildren(certificate(cert));
            out.scrollIntoView({ block: 'nearest' });
          } catch (err) {
            showError(err);
          }
        });
      },
    },
    h('p', {}, h('label', { for: 'f-cert-from' }, t('certFrom')), from),
    h('p', {}, h('label', { for: 'f-cert-to' }, t('certTo')), to),
    h('p', {}, h('label', { for: 'f-cert-kind' }, t('certKind')), kind),
    h('p', {}, h('label', { for: 'f-cert-number' }, t('certNumber')), number),
    h('p', {}, h('label', { for: 'f-cert-volunteer' }, t('certVolunteerNumber')), volunteerNumber),
    send),
    out);
}

/** A certificate as printed: A4, Chinese, with its number, check code and where to verify it. */
function certificate(c) {
  const verify = `${location.origin}${c.verify_url}`;
  return h('article', { class: 'certificate', role: 'group', 'aria-label': t('certTitle') },
    h('h4', {}, '志愿服务证明'),
    h('p', {}, `兹证明 ${c.name}（${c.id_type} 尾号 ${c.id_last4}）于 ${c.from} 至 ${c.to} 期间参加志愿服务 ${c.services} 次，累计服务时长 ${c.hours.toFixed(1)} 小时。`),
    c.volunteer_number ? h('p', {}, `志愿者编号：${c.volunteer_number}`) : null,
    h('table', { class: 'records' },
      h('thead', {}, h('tr', {}, ['日期', '服务内容', '地点', '时长（小时）'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, c.records.map((r) => h('tr', {},
        h('td', {}, r.date), h('td', {}, r.content), h('td', {}, r.place || ''), h('td', {}, r.hours.toFixed(1)))))),
    h('p', {}, `出具单位：${c.issuer}　　出具日期：${c.issued_at.slice(0, 10)}`),
    h('p', {}, `负责人：${c.person_in_charge || '＿＿＿＿'}　　经办人：${c.handler || '＿＿＿＿'}　　联系方式：${c.contact || '＿＿＿＿'}`),
    h('p', {}, `证明编号：${c.number}　　核验码：${c.check_code}`),
    h('p', { class: 'verify-at' }, `核验：${verify}`),
    h('div', { class: 'buttons no-print' },
      h('button', { type: 'button', class: 'secondary', onclick: () => window.print() }, t('certPrint')),
      h('button', {
        type: 'button', class: 'secondary',
        onclick: () => download(`/api/v1/certificates/${encodeURIComponent(c.number)}?format=pdf`, `certificate-${c.number}.pdf`).catch(showError),
      }, t('certPdf'))));
}

// ---- administrator -------------------------------------------------------------------------

/** 消息投递: notifications the webhooks could not take (parked after their retries), each with
 * its last error and a button that sends it again; and how many still wait their turn. */
export async function deliveries(ctx) {
  const [failed, backlog] = await Promise.all([
    get('/api/v1/admin/outbox?state=failed&limit=100'),
    get('/api/v1/admin/outbox/backlog'),
  ]);
  const retry = (m) => async () => {
    clearError();
    try {
      await post(`/api/v1/admin/outbox/${m.id}/retry`);
      toast(t('retryQueued'));
      ctx.render('/deliveries');
    } catch (err) {
      showError(err);
    }
  };
  return h('section', { class: 'deliveries' },
    h('h2', {}, t('deliveries')),
    h('p', { class: 'muted' }, t('deliveriesHelp')),
    h('p', {}, t('deliveriesPending', { n: backlog.pending })),
    backlog.parked ? h('p', { class: 'parked' }, t('deliveriesParked', { n: backlog.parked })) : null,
    failed.length
      ? h('ul', { class: 'overdue' }, failed.map((m) => h('li', { dataset: { id: m.id } },
        h('span', { class: 'title' }, t(`ev_${m.type}`)),
        h('span', { class: 'muted' }, t('asked', { when: when(m.created_at) })),
        h('span', { class: 'extra' }, m.last_error || ''),
        h('button', { type: 'button', class: 'secondary', onclick: retry(m) }, t('retryDelivery')))))
      : h('p', { class: 'empty' }, t('deliveriesEmpty')));
}

// ---- signing in ----------------------------------------------------------------------------

/** Signing in: the code staff handed over (typed as printed, any case, with or without the
 * dash), or, folded away, a token an administrator issued. */
export function signIn(onToken, onCode, message) {
  const code = h('input', {
    id: 'f-code', type: 'text', inputmode: 'text', autocomplete: 'one-time-code',
    autocapitalize: 'characters', spellcheck: 'false', maxlength: 12, required: true, class: 'code',
  });
  const tokenInput = h('input', { id: 'f-token', type: 'password', autocomplete: 'current-password' });
  return h('section', { class: 'signin' },
    h('h2', {}, t('signinTitle')),
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    h('form', {
      onsubmit: (e) => {
        e.preventDefault();
        if (code.value.trim()) onCode(code.value.trim());
      },
    },
    h('p', {}, t('signinHelp')),
    h('p', {}, h('label', { for: 'f-code' }, t('codeLabel')), code),
    h('button', { type: 'submit', class: 'primary big' }, t('signin'))),
    askForm(),
    h('details', {},
      h('summary', {}, t('tokenInstead')),
      h('form', {
        onsubmit: (e) => {
          e.preventDefault();
          if (tokenInput.value.trim()) onToken(tokenInput.value.trim());
        },
      },
      h('p', {}, h('label', { for: 'f-token' }, t('tokenLabel')), tokenInput),
      h('button', { type: 'submit', class: 'secondary' }, t('signin')))));
}

/** 没有登录码？ The phone number the office has: it sees the ask and hands a code over. */
function askForm() {
  const phone = h('input', { id: 'f-ask-phone', type: 'tel', inputmode: 'numeric', autocomplete: 'tel', maxlength: 20, required: true });
  const said = h('p', { role: 'status' });
  return h('details', {},
    h('summary', {}, t('noCode')),
    h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        clearError();
        try {
          await askForCode(phone.value.trim());
          said.textContent = t('askSent');
        } catch (err) {
          showError(err);
        }
      },
    },
    h('p', {}, h('label', { for: 'f-ask-phone' }, t('askPhone')), phone),
    h('button', { type: 'submit', class: 'secondary' }, t('askButton')),
    said));
}

// ---- the office's people -------------------------------------------------------------------

/** 居民与志愿者: the office (or branch secretary) registers residents and volunteers of its
 * community (often for someone who phoned), finds them by phone number, hands them a
 * one-time sign-in code to print or show as a QR code, signs them out everywhere, disables
 * or enables them. */
export async function people(ctx, found = null) {
  const phone = h('input', { id: 'f-people-phone', type: 'tel', inputmode: 'numeric', autocomplete: 'off', maxlength: 20 });
  const [listed, buildings, asks] = await Promise.all([
    found ?? get('/api/v1/people'), get('/api/v1/buildings'), get('/api/v1/sign-in-requests')]);
  const slip = h('div', { class: 'code-slip', 'aria-live': 'polite' });
  const act = (fn) => async () => {
    clearError();
    try {
      await fn();
    } catch (err) {
      showError(err);
    }
  };
  const showCode = (p) => act(async () => {
    const issued = await post(`/api/v1/people/${p.id}/sign-in-codes`);
    slip.replaceChildren(codeSlip(p, issued));
    slip.scrollIntoView({ block: 'nearest' });
  });
  const endAll = (p) => act(async () => {
    const r = await post(`/api/v1/people/${p.id}/sessions/end`);
    toast(t('sessionsEnded', { n: r.ended }));
  });
  const setActive = (p, active) => act(async () => {
    await api('PUT', `/api/v1/people/${p.id}/active`, { active });
    toast(active ? t('enabled') : t('disabled'));
    ctx.render('/people');
  });
  const search = act(async () => {
    const q = phone.value.trim();
    const view = await people(ctx, await get(`/api/v1/people${q ? `?phone=${encodeURIComponent(q)}` : ''}`));
    document.getElementById('main').replaceChildren(view);
  });
  return h('section', { class: 'people' },
    h('h2', {}, t('people')),
    h('p', { class: 'muted' }, t('peopleHelp')),
    asks.length
      ? h('section', { class: 'asks', 'aria-labelledby': 'asks-title' },
        h('h3', { id: 'asks-title' }, t('asksTitle', { n: asks.length })),
        h('ul', { class: 'people-list' }, asks.map((a) => h('li', { dataset: { id: a.person_id } },
          h('span', { class: 'title' }, a.name),
          h('span', { class: 'muted' }, [a.phone, t('askedAt', { when: when(a.asked_at) })].filter(Boolean).join(' · ')),
          h('span', { class: 'buttons' },
            h('button', { type: 'button', class: 'primary', onclick: showCode({ id: a.person_id, name: a.name }) }, t('issueCode')))))))
      : null,
    registerForm(ctx, buildings, (p) => {
      toast(t('registered', { name: p.name }));
      return showCode(p)();
    }),
    slip,
    h('form', { class: 'find', onsubmit: (e) => { e.preventDefault(); search(); } },
      h('label', { for: 'f-people-phone' }, t('findByPhone')), phone,
      h('button', { type: 'submit', class: 'secondary' }, t('findResident'))),
    listed.length
      ? h('ul', { class: 'people-list' }, listed.map((p) => h('li', { dataset: { id: p.id }, class: p.active ? null : 'inactive' },
        h('span', { class: 'title' }, p.name),
        h('span', { class: 'muted' }, [p.roles.map((r) => t(`role_${r}`)).join('、'), p.building, p.phone].filter(Boolean).join(' · ')),
        p.active ? null : h('span', { class: 'badge' }, t('disabledBadge')),
        h('span', { class: 'buttons' },
          p.active ? h('button', { type: 'button', class: 'primary', onclick: showCode(p) }, t('issueCode')) : null,
          h('button', { type: 'button', class: 'secondary', onclick: endAll(p) }, t('endSessions')),
          h('button', { type: 'button', class: 'secondary', onclick: setActive(p, !p.active) }, p.active ? t('disable') : t('enable'))))))
      : h('p', { class: 'empty' }, t('peopleEmpty')));
}

function registerForm(ctx, buildings, onRegistered) {
  const name = h('input', { id: 'f-person-name', required: true, maxlength: 100, autocomplete: 'off' });
  const phone = h('input', { id: 'f-person-phone', type: 'tel', inputmode: 'numeric', maxlength: 20, autocomplete: 'off' });
  const building = h('select', { id: 'f-person-building' },
    h('option', { value: '' }, t('noBuilding')),
    buildings.map((b) => h('option', { value: b.id }, b.name)));
  const role = h('select', { id: 'f-person-role' },
    h('option', { value: 'resident' }, t('role_resident')),
    h('option', { value: 'member' }, t('role_member')));
  return h('form', {
    class: 'register',
    onsubmit: async (e) => {
      e.preventDefault();
      clearError();
      try {
        const body = { name: name.value.trim(), roles: [role.value] };
        if (phone.value.trim()) body.phone = phone.value.trim();
        if (building.value) body.home_building_id = building.value;
        const made = await post('/api/v1/people', body);
        await onRegistered({ id: made.id, name: body.name });
        e.target.reset();
      } catch (err) {
        showError(err);
      }
    },
  },
  h('h3', {}, t('register')),
  h('p', {}, h('label', { for: 'f-person-name' }, t('personName')), name),
  h('p', {}, h('label', { for: 'f-person-phone' }, t('personPhone')), phone),
  h('p', {}, h('label', { for: 'f-person-building' }, t('personBuilding')), building),
  h('p', {}, h('label', { for: 'f-person-role' }, t('personRole')), role),
  h('button', { type: 'submit', class: 'primary big' }, t('registerButton')));
}

/** What is handed over: the person's name, the code in large print, its QR code, until when
 * it works; with a button that prints just this. */
function codeSlip(person, issued) {
  const qr = h('img', {
    class: 'qr', width: 200, height: 200, alt: t('qrAlt'),
    src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(issued.qr_svg),
  });
  return h('div', { class: 'slip', role: 'group', 'aria-label': t('codeFor', { name: person.name }) },
    h('p', { class: 'slip-name' }, t('codeFor', { name: person.name })),
    h('p', { class: 'slip-code', dataset: { code: issued.code } }, issued.code),
    qr,
    h('p', { class: 'muted' }, t('codeValid', { when: when(issued.expires_at) })),
    h('p', { class: 'muted' }, t('codeHow')),
    h('button', { type: 'button', class: 'secondary no-print', onclick: () => window.print() }, t('print')));
}
