// The console's shell: sign-in from the link's fragment, the tabs each role has, a router on
// the address's `#/…`, and the live stream that redraws what changed.

import { get, token, follow, signInWithCode, endSession, downloadMyData, ApiError, on } from './api.js';
import { t, setLang, getLang } from './i18n.js';
import { h, showError, clearError, clearNetworkError, toast } from './ui.js';
import { detail } from './ticket.js';
import * as views from './views.js';
import * as volunteers from './volunteers.js';

const STAFF = ['secretary', 'community', 'street'];
/** Who may enter a request for a resident (代办): a volunteer or building head, the branch, the office. */
const PROXIES = ['member', 'secretary', 'community'];
/** Who registers the people of their community and hands them sign-in codes. */
const OFFICES = ['secretary', 'community'];

/** The tabs a person's roles give them, in order; the first is their home. */
function tabsFor(roles) {
  const tabs = [];
  if (roles.some((r) => STAFF.includes(r))) tabs.push(['queue', 'tabQueue'], ['figures', 'tabFigures']);
  if (roles.includes('member')) tabs.push(['orders', 'tabOrders'], ['pool', 'tabPool'], ['hours', 'tabHours']);
  if (roles.some((r) => PROXIES.includes(r))) tabs.push(['enter', 'tabEnterFor']);
  if (roles.includes('supervisor') || roles.some((r) => STAFF.includes(r))) tabs.push(['oversight', 'tabOversight']);
  if (roles.some((r) => OFFICES.includes(r))) tabs.push(['people', 'tabPeople']);
  if (roles.some((r) => STAFF.includes(r))) tabs.push(['volunteers', 'tabVolunteers'], ['bank', 'tabBank']);
  if (roles.includes('resident')) tabs.push(['requests', 'tabRequests'], ['new', 'tabNew']);
  if (roles.includes('resident') || roles.includes('member')) tabs.push(['passbook', 'tabPassbook']);
  if (roles.includes('admin')) tabs.push(['deliveries', 'tabDeliveries']);
  return tabs;
}

const PAGES = {
  requests: views.myRequests,
  new: views.newRequest,
  queue: views.queue,
  figures: views.figures,
  orders: views.orders,
  pool: views.pool,
  hours: views.hours,
  enter: views.enterForResident,
  oversight: views.oversight,
  deliveries: views.deliveries,
  people: views.people,
  volunteers: (ctx) => volunteers.office(ctx),
  passbook: volunteers.passbook,
  bank: volunteers.bank,
};

const main = document.getElementById('main');
let ctx = null;
let stopStream = null;
/** Whether the live stream flows: `null` until known. */
let live = null;

function route() {
  const path = location.hash.replace(/^#/, '') || '/';
  const ticket = path.match(/^\/t\/([0-9a-f-]{36})$/);
  if (ticket) return { page: 'ticket', id: ticket[1] };
  const page = path.slice(1);
  return { page: PAGES[page] && ctx.tabs.some(([p]) => p === page) ? page : ctx.tabs[0]?.[0] };
}

/** Whether something was typed or chosen on the page shown: a live redraw would lose it. */
let typed = false;
main.addEventListener('input', () => { typed = true; });

// Renders overlap (a click, a pushed message, the minute's look): only the last one begun
// may draw, or a slow answer for the page just left would replace the page now shown.
let renders = 0;

/** Draws the current page; `live` redraws keep the reader's place and open forms. */
async function render({ keepError = false, live = false } = {}) {
  if (!ctx) return;
  const where = route();
  if (live && (typed || main.querySelector('.panel > *, .new-request'))) return; // someone is typing
  const mine = ++renders;
  if (!keepError) clearError();
  drawTabs(where.page);
  try {
    const view = where.page === 'ticket'
      ? await detail(ctx, where.id)
      : await (PAGES[where.page] || (() => h('p', { class: 'empty' }, t('noPages'))))(ctx);
    if (mine !== renders) return;
    main.replaceChildren(view);
    typed = false;
    if (!live) restoreDrafts();
    if (!live) main.querySelector('h2')?.setAttribute('tabindex', '-1');
    if (!live) main.querySelector('h2')?.focus({ preventScroll: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // signed out by `expired`
    if (mine !== renders) return;
    showError(err);
    if (!main.firstChild || !live) main.replaceChildren(h('p', { class: 'empty' }, h('a', { href: '#/' }, '← ', t('back'))));
  }
}

/** Goes to `path`, or draws it again if it is where we are. */
function show(path, opts) {
  if (location.hash === '#' + path) render(opts);
  else location.hash = '#' + path;
}

/** The tabs, updated in place when they are the same ones: a tap on a tab while the page
 * redraws (a pushed message) must not land on a link that was just replaced. */
function drawTabs(current) {
  const nav = document.getElementById('tabs');
  nav.setAttribute('aria-label', t('nav'));
  const links = [...nav.children];
  const same = links.length === ctx.tabs.length
    && links.every((a, i) => a.getAttribute('href') === `#/${ctx.tabs[i][0]}`);
  if (!same) {
    // A tap on the tab of the page shown draws it again (after an error, say).
    const again = (e) => { if (e.currentTarget.getAttribute('href') === location.hash) render(); };
    nav.replaceChildren(...ctx.tabs.map(([page]) => h('a', { href: `#/${page}`, onclick: again })));
  }
  [...nav.children].forEach((a, i) => {
    const [page, key] = ctx.tabs[i];
    a.textContent = t(key);
    if (page === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

/** The header's live mark, in the page's language: flowing, or not (and then why not). */
function drawLive() {
  const mark = document.getElementById('live');
  mark.hidden = !ctx || live === null;
  mark.textContent = live ? `● ${t('online')}` : `○ ${t('offline')}`;
  mark.classList.toggle('up', !!live);
  mark.dataset.live = live ? 'up' : 'down';
}

function setLive(up) {
  const back = up && live === false;
  live = up;
  drawLive();
  if (up) clearNetworkError();
  // Back after a break: what the page showed may be stale, or an error in place of a page.
  if (back) render({ keepError: true, live: true });
}

function drawShell() {
  document.documentElement.lang = getLang();
  document.documentElement.classList.toggle('large', localStorage.getItem(LARGE_KEY) === '1');
  const large = document.getElementById('large');
  large.textContent = t('largeText');
  large.setAttribute('aria-pressed', String(localStorage.getItem(LARGE_KEY) === '1'));
  document.getElementById('skip').textContent = t('skip');
  document.getElementById('brand').textContent = t('brand');
  document.getElementById('lang').textContent = t('langSwitch');
  document.getElementById('lang').lang = getLang() === 'en' ? 'zh-CN' : 'en';
  const out = document.getElementById('signout');
  out.textContent = t('signout');
  out.hidden = !ctx;
  const mine = document.getElementById('mydata');
  mine.textContent = t('myData');
  mine.hidden = !ctx;
  document.getElementById('who').textContent = ctx
    ? `${ctx.me.name} · ${ctx.me.roles.map((r) => t(`role_${r}`)).join('、')}`
    : '';
  drawLive();
}

/** 大字: larger text for old eyes, kept on this phone. */
const LARGE_KEY = 'linli.large';

// ---- what was typed, kept across a sign-in ----------------------------------------------------

const DRAFTS_KEY = 'linli.drafts';

/** What is typed on the page now (by field id), kept for after the next sign-in. */
function saveDrafts() {
  const fields = {};
  main.querySelectorAll('textarea[id], input[type=text][id], input[type=tel][id]').forEach((f) => {
    if (f.value.trim()) fields[f.id] = f.value;
  });
  if (Object.keys(fields).length) sessionStorage.setItem(DRAFTS_KEY, JSON.stringify({ hash: location.hash, fields }));
}

/** Puts back what was typed before a sign-in, on the page it was typed on. */
function restoreDrafts() {
  const saved = JSON.parse(sessionStorage.getItem(DRAFTS_KEY) || 'null');
  if (!saved || saved.hash !== location.hash) return;
  let restored = false;
  for (const [id, value] of Object.entries(saved.fields)) {
    const field = document.getElementById(id);
    if (field && !field.value) {
      field.value = value;
      restored = true;
    }
  }
  if (restored) {
    sessionStorage.removeItem(DRAFTS_KEY);
    toast(t('draftRestored'));
  }
}

async function start() {
  const [me, categories, workflows] = await Promise.all([
    get('/api/v1/me'), get('/api/v1/categories'), get('/api/v1/workflows'),
  ]);
  stopStream?.();
  ctx = {
    me,
    tabs: tabsFor(me.roles),
    categories: new Map(categories.map((c) => [c.code, c])),
    workflows: new Map(workflows.map((w) => [`${w.id}@${w.version}`, w])),
    go: show,
    render: show,
  };
  live = null;
  drawShell();
  // Back where the page was when the session ended (a form half filled).
  const draft = JSON.parse(sessionStorage.getItem(DRAFTS_KEY) || 'null');
  if (draft && location.hash !== draft.hash) history.replaceState(null, '', draft.hash);
  await render();
  stopStream = follow(onMessage, setLive);
}

/** What a resident is told of beyond the page's own refresh (workflow `[[notify]]` rules). */
const TOLD_RESIDENT = ['decline', 'expire', 'auto_close'];

function onMessage(message) {
  const to = message.data.recipient || {};
  const mine = to.person === ctx.me.id || ctx.me.teams.includes(to.team);
  if (message.type === 'dispatch' && mine && ctx.me.roles.includes('member')) toast(t('newDispatch'));
  // A resident hears, in plain words, when her request went back to the branch or closed itself.
  if (mine && TOLD_RESIDENT.includes(message.type)) toast(t(`told_${message.type}`));
  const where = route();
  if (where.page !== 'ticket' || where.id === message.data.ticket_id) render({ keepError: true, live: true });
}

function signOut(message) {
  token.clear();
  // The lists kept for offline go with the session: the next person on this phone sees none.
  if (window.caches) caches.delete('linli-lists');
  showSignIn(message);
}

function showSignIn(message) {
  stopStream?.();
  stopStream = null;
  ctx = null;
  live = null;
  drawShell();
  document.getElementById('tabs').replaceChildren();
  clearError();
  main.replaceChildren(views.signIn(signInWith, useCode, message));
}

// A session refused, whatever call met it: keep what was typed, say so, sign in again.
on('expired', () => {
  if (!ctx) return;
  saveDrafts();
  signOut(t('expired'));
});
// The network: lost, the header says so at once (the phone says it is offline, or the
// stream, rechecked after a call met no network, finds it gone); back, the stream reconnects
// and the "cannot connect" message goes.
on('network', (up) => { if (up) clearNetworkError(); });
window.addEventListener('offline', () => { if (ctx) setLive(false); });
on('fromBefore', () => toast(t('fromBefore')));

// On a phone's home screen, and readable offline (the last lists seen): sw.js.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});

/** A one-time code, typed or from a QR code's link: exchanged for a session. */
async function useCode(code) {
  clearError();
  try {
    await signInWithCode(code);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignIn(t('codeRefused'));
    if (err instanceof ApiError && err.status === 429) return showSignIn(t('codeTooMany'));
    return showError(err);
  }
  signInWith(token.get());
}

async function signInWith(value) {
  token.set(value);
  clearError();
  try {
    await start();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signOut(t('expired'));
    showError(err);
  }
}

document.getElementById('large').addEventListener('click', () => {
  const on = localStorage.getItem(LARGE_KEY) !== '1';
  localStorage.setItem(LARGE_KEY, on ? '1' : '0');
  drawShell();
});
document.getElementById('lang').addEventListener('click', () => {
  setLang(getLang() === 'en' ? 'zh-CN' : 'en');
  drawShell();
  if (ctx) render({ keepError: true });
  else main.replaceChildren(views.signIn(signInWith, useCode));
});
document.getElementById('mydata').addEventListener('click', async () => {
  clearError();
  try {
    await downloadMyData();
  } catch (err) {
    showError(err);
  }
});
document.getElementById('signout').addEventListener('click', async () => {
  await endSession();
  signOut(t('signedOut'));
});
window.addEventListener('hashchange', () => {
  if (/^#(token|code)=/.test(location.hash) || REPORT_IN.test(location.hash)) return boot();
  render();
});
// Deadlines move on and flags (warned, breached) are the server's: look again each minute.
setInterval(() => render({ keepError: true, live: true }), 60000);

/** A community's published report-in link (`…/#report-in/7KQM2XPA`, its poster's QR code):
 * the form for a newcomer, whoever is signed in on this phone. */
const REPORT_IN = /^#report-in\/([^/&]+)$/;

async function showReportIn(code) {
  stopStream?.();
  stopStream = null;
  ctx = null;
  drawShell();
  document.getElementById('tabs').replaceChildren();
  clearError();
  main.replaceChildren(await volunteers.publicReportIn(code));
}

/** A link `…/#code=7KQM2XPA` (a QR code's) or `…/#token=ll_…` signs in; either is then
 * taken out of the address bar and history. */
function boot() {
  const fragment = location.hash.match(/^#(token|code)=([^&]+)/);
  setLang(getLang());
  const reportIn = location.hash.match(REPORT_IN);
  if (reportIn) return showReportIn(decodeURIComponent(reportIn[1]));
  if (fragment) {
    history.replaceState(null, '', location.pathname + '#/');
    const value = decodeURIComponent(fragment[2]);
    if (fragment[1] === 'code') return useCode(value);
    token.set(value);
  }
  if (token.get()) signInWith(token.get());
  else signOut();
}

boot();
