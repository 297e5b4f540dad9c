// The volunteer's side on the console. 双报到: a member's profile and reporting in (on their
// hours page); the office's page of report-ins, the code it publishes, and each quarter's
// feedback sheets per work unit, signed off there and printed from the page the work unit
// reads; the form a published code opens for a newcomer, without signing in. 时间银行: the
// passbook (存折), with giving hours to a relative or to the pool.

import { get, post, publicApi } from './api.js';
import { t, label, when } from './i18n.js';
import { h, showError, clearError, toast, fieldProblem, busy } from './ui.js';

/** The skills to choose from, `[skill, in words]`: those the categories ask for. */
function skillsOf(ctx) {
  const seen = new Map();
  for (const c of ctx.categories.values()) for (const s of c.skills) if (!seen.has(s)) seen.set(s, label(c.label) || s);
  return [...seen];
}

/** The report-in form: work unit, party organisation, post, skills. `send(body)` sends it. */
function reportInForm(prefix, posts, skills, send, extra = []) {
  const unit = h('input', { id: `${prefix}-unit`, type: 'text', maxlength: 100, required: true, autocomplete: 'organization' });
  const org = h('input', { id: `${prefix}-org`, type: 'text', maxlength: 100, required: true });
  const post = h('select', { id: `${prefix}-post`, required: true },
    h('option', { value: '' }, t('choosePost')), posts.map((p) => h('option', { value: p }, p)));
  const boxes = skills.map(([s, words]) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', value: s }), ' ', words));
  const button = h('button', { type: 'submit', class: 'primary big' }, t('reportInSend'));
  return h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearError();
      for (const [field, what] of [...extra.map((f) => [f, f.dataset.what]), [unit, t('workUnit')], [org, t('partyOrg')]]) {
        if (!field.value.trim()) return fieldProblem(field, t('fill', { what }));
      }
      if (!post.value) return fieldProblem(post, t('choosePost'));
      await busy(button, async () => {
        try {
          await send({
            work_unit: unit.value, party_org: org.value, post: post.value,
            skills: boxes.map((b) => b.firstChild).filter((b) => b.checked).map((b) => b.value),
          });
        } catch (err) {
          showError(err);
        }
      });
    },
  },
  extra.map((f) => h('p', {}, h('label', { for: f.id }, f.dataset.what), f)),
  h('p', {}, h('label', { for: unit.id }, t('workUnit')), unit),
  h('p', {}, h('label', { for: org.id }, t('partyOrg')), org),
  h('p', {}, h('label', { for: post.id }, t('post')), post),
  skills.length ? h('fieldset', { class: 'skills' }, h('legend', {}, t('skillsOptional')), boxes) : null,
  button);
}

function profileFacts(p) {
  return h('dl', { class: 'facts profile' },
    h('dt', {}, t('workUnit')), h('dd', {}, p.work_unit),
    h('dt', {}, t('partyOrg')), h('dd', {}, p.party_org),
    h('dt', {}, t('post')), h('dd', {}, p.post),
    h('dt', {}, t('reportedOn')), h('dd', {}, when(p.decided_at)));
}

/** A member's reporting in, on their hours page: their profile, what awaits the office, and
 * the form (to report in, or again with a new post). */
export async function reportInPanel(ctx) {
  const mine = await get('/api/v1/me/report-in');
  const sent = async (body) => {
    await post('/api/v1/me/report-in', body);
    toast(t('reportInSent'));
    ctx.render('/hours');
  };
  return h('section', { class: 'report-in', 'aria-labelledby': 'report-in-title' },
    h('h3', { id: 'report-in-title' }, t('reportInTitle')),
    mine.profile ? profileFacts(mine.profile) : h('p', { class: 'muted' }, t('reportInHelp')),
    mine.pending
      ? h('p', { class: 'pending' }, t('reportInPending', { post: mine.pending.post, when: when(mine.pending.asked_at) }))
      : h('details', { open: !mine.profile },
        h('summary', {}, mine.profile ? t('reportInAgain') : t('reportInTitle')),
        reportInForm('f-ri', mine.posts, skillsOf(ctx), sent)));
}

/** The form a published code opens: a newcomer reports in without signing in. */
export async function publicReportIn(code) {
  const main = h('section', { class: 'report-in public' });
  let form;
  try {
    form = await publicApi('GET', `/public/v1/report-in/${encodeURIComponent(code)}`);
  } catch (err) {
    main.append(h('h2', {}, t('reportInTitle')), h('p', { class: 'empty' }, t('reportInNoCode')));
    if (err.status !== 404) showError(err);
    return main;
  }
  const name = h('input', { id: 'f-pri-name', type: 'text', maxlength: 100, autocomplete: 'name', dataset: { what: t('yourName') } });
  const phone = h('input', { id: 'f-pri-phone', type: 'tel', inputmode: 'tel', maxlength: 30, autocomplete: 'tel', dataset: { what: t('yourPhone') } });
  const done = async (body) => {
    await publicApi('POST', `/public/v1/report-in/${encodeURIComponent(code)}`, { ...body, name: name.value, phone: phone.value });
    main.replaceChildren(h('h2', { tabindex: '-1' }, t('reportInTitle')), h('p', { class: 'done', role: 'status' }, t('reportInReceived', { community: form.community })));
    main.querySelector('h2').focus();
  };
  main.append(
    h('h2', {}, t('reportInTo', { community: form.community })),
    h('p', { class: 'muted' }, t('reportInPublicHelp')),
    reportInForm('f-pri', form.posts, form.skills, done, [name, phone]));
  return main;
}

// ---- the office ----------------------------------------------------------------------------

/** 双报到 for the office: report-ins to decide, the code to publish, and the quarter's sheets. */
export async function office(ctx, period = null) {
  const community = ctx.me.community_id;
  if (!community) return h('p', { class: 'empty' }, t('noCommunity'));
  const decides = ctx.me.roles.includes('community');
  const q = period ? `?period=${encodeURIComponent(period)}` : '';
  const [pending, feedback, code] = await Promise.all([
    get(`/api/v1/communities/${community}/report-ins?status=pending`),
    get(`/api/v1/communities/${community}/feedback${q}`),
    get(`/api/v1/communities/${community}/report-in-code`).catch((err) => (err.status === 404 ? null : Promise.reject(err))),
  ]);
  const again = () => office(ctx, period).then((v) => document.getElementById('main').replaceChildren(v));
  const act = (button, fn) => busy(button, async () => {
    clearError();
    try {
      await fn();
      await again();
    } catch (err) {
      showError(err);
    }
  });
  const approve = (r) => (e) => act(e.currentTarget, async () => {
    await post(`/api/v1/report-ins/${r.id}/decision`, { approve: true });
    toast(t('reportInApproved', { name: r.name }));
  });
  // Declining says why (the member is told); signing off carries the community's remark.
  const declineForm = (r) => {
    const reason = h('input', { id: `f-decline-${r.id}`, type: 'text', maxlength: 500 });
    const button = h('button', { type: 'submit', class: 'secondary' }, t('declineSend'));
    return h('details', { class: 'rare' }, h('summary', {}, t('decline')),
      h('form', {
        novalidate: true,
        onsubmit: (e) => {
          e.preventDefault();
          if (!reason.value.trim()) return fieldProblem(reason, t('fill', { what: t('declineWhy') }));
          return act(button, async () => {
            await post(`/api/v1/report-ins/${r.id}/decision`, { approve: false, reason: reason.value });
            toast(t('reportInDeclined', { name: r.name }));
          });
        },
      }, h('label', { for: reason.id }, t('declineWhy')), reason, button));
  };
  const signForm = (sheet, i) => {
    const remark = h('textarea', { id: `f-remark-${i}`, rows: 2, maxlength: 1000 }, t('remarkDefault'));
    const button = h('button', { type: 'submit', class: 'primary' }, t('signSheet'));
    return h('form', {
      class: 'sign',
      novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        return act(button, async () => {
          await post(`/api/v1/communities/${community}/feedback-sheets`, { work_unit: sheet.work_unit, from: sheet.from, to: sheet.to, remark: remark.value });
          toast(t('sheetSigned', { unit: sheet.work_unit }));
        });
      },
    }, h('label', { for: remark.id }, t('remarkAsk')), remark, button);
  };
  const quarter = h('input', { id: 'f-quarter', type: 'text', value: period || '', placeholder: '2026Q3', maxlength: 7, size: 8 });
  return h('section', { class: 'volunteers' },
    h('h2', {}, t('volunteersTitle')),
    h('section', { 'aria-labelledby': 'ri-pending' },
      h('h3', { id: 'ri-pending' }, t('reportInsPending', { n: pending.length })),
      pending.length
        ? h('ul', { class: 'people-list' }, pending.map((r) => h('li', { dataset: { id: r.id } },
          h('span', { class: 'title' }, r.name),
          h('span', { class: 'muted' }, [r.work_unit, r.party_org, r.post, r.person_id ? null : t('newcomer'), when(r.asked_at)].filter(Boolean).join(' · ')),
          decides ? h('span', { class: 'buttons' },
            h('button', { type: 'button', class: 'primary', onclick: approve(r) }, t('approve')),
            declineForm(r)) : null)))
        : h('p', { class: 'empty' }, t('reportInsNone'))),
    h('section', { class: 'code', 'aria-labelledby': 'ri-code' },
      h('h3', { id: 'ri-code' }, t('reportInCode')),
      code
        ? h('div', { class: 'slip' },
          h('p', { class: 'slip-code' }, code.code),
          h('img', { class: 'qr', alt: t('reportInQrAlt'), src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(code.qr_svg)}` }),
          h('p', { class: 'verify-at' }, code.link))
        : h('p', { class: 'muted' }, t('reportInNoCodeYet')),
      decides ? h('button', {
        type: 'button', class: 'secondary no-print',
        onclick: (e) => act(e.currentTarget, () => post(`/api/v1/communities/${community}/report-in-code`)),
      }, code ? t('newCode') : t('publishCode')) : null),
    h('section', { class: 'sheets', 'aria-labelledby': 'ri-sheets' },
      h('h3', { id: 'ri-sheets' }, t('sheetsTitle', { from: feedback.from, to: feedback.to })),
      h('form', { class: 'find', onsubmit: (e) => { e.preventDefault(); office(ctx, quarter.value.trim() || null).then((v) => document.getElementById('main').replaceChildren(v)).catch(showError); } },
        h('label', { for: 'f-quarter' }, t('quarter')), quarter,
        h('button', { type: 'submit', class: 'secondary' }, t('show'))),
      feedback.sheets.length
        ? h('ul', { class: 'sheet-list' }, feedback.sheets.map((s, i) => h('li', { dataset: { unit: s.work_unit } },
          h('span', { class: 'title' }, s.work_unit),
          h('span', {}, t('sheetTotals', { members: s.members.length, services: s.services, hours: s.hours.toFixed(1) })),
          s.number
            ? h('span', { class: 'signed' }, t('sheetSignedOn', { when: when(s.signed_at), number: s.number }))
            : decides ? signForm(s, i) : h('span', { class: 'muted' }, t('notSigned')),
          s.number ? h('button', {
            type: 'button', class: 'secondary',
            onclick: async () => {
              try {
                const signed = await get(`/api/v1/feedback-sheets/${encodeURIComponent(s.number)}`);
                window.open(signed.read_url, '_blank', 'noopener');
              } catch (err) {
                showError(err);
              }
            },
          }, t('printSheet')) : null)))
        : h('p', { class: 'empty' }, t('sheetsNone')),
      feedback.idle.length ? h('p', { class: 'idle' }, t('idleMembers', { names: feedback.idle.map((m) => m.name).join('、') })) : null,
      feedback.not_reported.length ? h('p', { class: 'not-reported' }, t('notReported', { names: feedback.not_reported.map((m) => m.name).join('、') })) : null));
}

// ---- 时间银行 --------------------------------------------------------------------------------

const hoursText = (h) => t('hoursValue', { n: (Math.round(h * 100) / 100).toString() });

/** 存折: the balance, what is set aside for requests not yet done, every movement; giving hours
 * to a relative the office confirmed, or to the community's pool. */
export async function passbook(ctx) {
  const book = await get(`/api/v1/people/${ctx.me.id}/passbook`);
  if (!book.open && !book.lines.length) {
    return h('section', { class: 'passbook' }, h('h2', {}, t('passbook')), h('p', { class: 'empty' }, t('bankClosed')));
  }
  const give = (id, path, body) => {
    const hours = h('input', { id, type: 'number', inputmode: 'decimal', min: '0.5', step: '0.5', max: String(book.balance_hours) });
    const button = h('button', { type: 'submit', class: 'secondary' }, t('give'));
    return { hours, button, submit: (e, extra) => {
      e.preventDefault();
      clearError();
      const n = Number(hours.value);
      if (!(n > 0)) return fieldProblem(hours, t('fill', { what: t('giveHours') }));
      return busy(button, async () => {
        try {
          await post(path, { ...body(), ...extra, hours: n });
          toast(t('given', { hours: hoursText(n) }));
          ctx.render('/passbook');
          return true;
        } catch (err) {
          showError(err);
          return false;
        }
      });
    } };
  };
  const relative = h('select', { id: 'f-relative' }, book.relatives.map((r) => h('option', { value: r.id }, r.name)));
  const toRelative = give('f-give-relative', '/api/v1/me/time-bank/transfers', () => ({ to: relative.value }));
  const toPool = give('f-give-pool', '/api/v1/me/time-bank/donations', () => ({}));
  return h('section', { class: 'passbook' },
    h('h2', {}, t('passbook')),
    h('div', { class: 'tiles' },
      h('div', { class: 'figure' }, h('span', { class: 'value' }, book.balance_hours.toFixed(1)), h('span', { class: 'name' }, t('balanceHours')))),
    book.holds.length
      ? h('section', { 'aria-labelledby': 'holds' }, h('h3', { id: 'holds' }, t('holdsTitle')),
        h('ul', { class: 'ledger' }, book.holds.map((x) => h('li', {},
          h('a', { href: `#/t/${x.ticket_id}` }, t('heldFor')), h('span', {}, hoursText(x.hours))))))
      : null,
    h('h3', {}, t('movements')),
    book.lines.length
      ? h('ul', { class: 'ledger movements' }, book.lines.map((l) => h('li', {},
        l.ticket_id ? h('a', { href: `#/t/${l.ticket_id}` }, t(`tb_${l.kind}`)) : h('span', {}, t(`tb_${l.kind}`)),
        h('span', { class: l.hours < 0 ? 'out' : 'in' }, `${l.hours > 0 ? '+' : '−'}${hoursText(Math.abs(l.hours))}`),
        h('time', { datetime: l.at }, when(l.at)),
        l.reason ? h('span', { class: 'extra' }, l.reason) : null)))
      : h('p', { class: 'empty' }, t('movementsNone')),
    book.open && book.balance_hours > 0 ? h('details', { class: 'rare' }, h('summary', {}, t('giveTitle')),
      book.relatives.length ? h('form', { novalidate: true, onsubmit: (e) => toRelative.submit(e, {}) },
        h('p', {}, h('label', { for: 'f-relative' }, t('toRelative')), relative),
        h('p', {}, h('label', { for: 'f-give-relative' }, t('giveHours')), toRelative.hours), toRelative.button)
        : h('p', { class: 'muted' }, t('noRelatives')),
      h('form', { novalidate: true, onsubmit: (e) => toPool.submit(e, {}) },
        h('p', {}, h('label', { for: 'f-give-pool' }, t('toPool')), toPool.hours), toPool.button)) : null);
}

/** On the request form of a community with a time bank: pay with hours (optional). */
export async function payField(ctx) {
  const book = await get(`/api/v1/people/${ctx.me.id}/passbook`).catch(() => null);
  if (!book?.open || !(book.balance_hours > 0)) return null;
  const hours = h('input', { id: 'f-pay', type: 'number', inputmode: 'decimal', min: '0.5', step: '0.5', max: String(book.balance_hours) });
  return {
    field: h('p', {}, h('label', { for: 'f-pay' }, t('payWithHours', { balance: hoursText(book.balance_hours) })), hours),
    value: () => (hours.value ? { pay_hours: Number(hours.value) } : {}),
  };
}

/** The person of the office's community with this phone number: their id, or a problem said
 * at the field. */
async function personByPhone(field) {
  const phone = field.value.trim();
  if (!phone) return fieldProblem(field, t('fill', { what: t('phone') }));
  const found = await get(`/api/v1/people?phone=${encodeURIComponent(phone)}`);
  if (found.length !== 1) return fieldProblem(field, t(found.length ? 'phoneMany' : 'phoneNobody'));
  return found[0];
}

/** 时间银行 for the office: the pool and what the bank has taken in; grants from the pool to a
 * resident in need; the relatives it has confirmed (who may give whom hours). */
export async function bank(ctx) {
  const community = ctx.me.community_id;
  const info = community
    ? await get(`/api/v1/communities/${community}/time-bank`).catch((err) => (err.status === 404 ? null : Promise.reject(err)))
    : null;
  if (!info) return h('section', { class: 'bank' }, h('h2', {}, t('bankTitle')), h('p', { class: 'empty' }, t('bankClosed')));
  const keeps = ctx.me.roles.includes('community');
  const form = (fields, button, send) => h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearError();
      await busy(button, async () => {
        try {
          if (await send() === false) return false;
          ctx.render('/bank');
          return true;
        } catch (err) {
          showError(err);
          return false;
        }
      });
    },
  }, fields.map(([label, input]) => h('p', {}, h('label', { for: input.id }, label), input)), button);
  const grantPhone = h('input', { id: 'f-grant-phone', type: 'tel', inputmode: 'tel', maxlength: 30 });
  const grantHours = h('input', { id: 'f-grant-hours', type: 'number', inputmode: 'decimal', min: '0.5', step: '0.5', max: String(info.pool_hours) });
  const grantWhy = h('input', { id: 'f-grant-why', type: 'text', maxlength: 500 });
  const grantButton = h('button', { type: 'submit', class: 'primary' }, t('grant'));
  const grant = form([[t('grantTo'), grantPhone], [t('giveHours'), grantHours], [t('grantWhy'), grantWhy]], grantButton, async () => {
    const person = await personByPhone(grantPhone);
    if (!person) return false;
    if (!(Number(grantHours.value) > 0)) return fieldProblem(grantHours, t('fill', { what: t('giveHours') })) ?? false;
    if (!grantWhy.value.trim()) return fieldProblem(grantWhy, t('fill', { what: t('grantWhy') })) ?? false;
    await post(`/api/v1/communities/${community}/time-bank/grants`, { person_id: person.id, hours: Number(grantHours.value), reason: grantWhy.value });
    toast(t('granted', { name: person.name }));
    return true;
  });
  const whose = h('input', { id: 'f-rel-person', type: 'tel', inputmode: 'tel', maxlength: 30 });
  const relative = h('input', { id: 'f-rel-relative', type: 'tel', inputmode: 'tel', maxlength: 30 });
  const relButton = h('button', { type: 'submit', class: 'secondary' }, t('confirmRelation'));
  const relation = form([[t('relationOf'), whose], [t('relationIs'), relative]], relButton, async () => {
    const person = await personByPhone(whose);
    if (!person) return false;
    const rel = await personByPhone(relative);
    if (!rel) return false;
    await post(`/api/v1/communities/${community}/time-bank/relations`, { person_id: person.id, relative_id: rel.id });
    toast(t('relationConfirmed', { person: person.name, relative: rel.name }));
    return true;
  });
  return h('section', { class: 'bank' },
    h('h2', {}, t('bankTitle')),
    h('div', { class: 'tiles' },
      h('div', { class: 'figure' }, h('span', { class: 'value' }, info.pool_hours.toFixed(1)), h('span', { class: 'name' }, t('poolHours'))),
      h('div', { class: 'figure' }, h('span', { class: 'value' }, info.issued_hours.toFixed(1)), h('span', { class: 'name' }, t('issuedHours')))),
    h('p', { class: 'muted' }, [
      info.daily_cap_hours ? t('dailyCap', { n: info.daily_cap_hours }) : null,
      info.account_cap_hours ? t('accountCap', { n: info.account_cap_hours }) : null,
    ].filter(Boolean).join('；')),
    keeps ? [h('h3', {}, t('grantTitle')), grant, h('h3', {}, t('relationTitle')), relation] : null);
}
