// Small DOM helpers: building elements, messages for people, the SLA countdown.

import { t, duration, when } from './i18n.js';

/**
 * `h('button', {class: 'big', onclick: f}, 'text', child)`: an element. Text is always set
 * as text, never as HTML, so what residents type can never become markup.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let toastTimer;

/** Takes the toast away now (a form opened where it would cover what comes next). */
export function hideToast() {
  clearTimeout(toastTimer);
  document.getElementById('toast').classList.remove('show');
}

/** A short message read out by screen readers, gone after a few seconds. */
export function toast(message) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 4000);
}

let sticky = false;

/**
 * An error in plain words (role=alert), never a blank page. A `sticky` one survives the next
 * page drawn (a lost race shows its message above the page that replaced the stale one).
 */
export function showError(err, { sticky: keep = false } = {}) {
  // A refused session signs the page out with its own message.
  if (err?.status === 401) return;
  const el = document.getElementById('alert');
  el.textContent = plain(err);
  el.hidden = false;
  el.dataset.network = String(err?.status === 0);
  sticky = keep;
  el.scrollIntoView({ block: 'nearest' });
}

export function clearError() {
  if (sticky) {
    sticky = false;
    return;
  }
  document.getElementById('alert').hidden = true;
}

/** The network is back: a "cannot connect" message no longer holds. */
export function clearNetworkError() {
  const el = document.getElementById('alert');
  if (!el.hidden && el.dataset.network === 'true') el.hidden = true;
}

/**
 * A problem with what was filled in, said beside the page's other errors, and the field
 * focused (scrolled to), so the person knows where to look: the page checks a form itself,
 * never the browser's bubble (which on a phone points at nothing visible).
 */
export function fieldProblem(field, message) {
  showError(new Error(message));
  field?.focus();
  field?.scrollIntoView?.({ block: 'center' });
}

/**
 * Runs `work` with `buttons` disabled until it ends: a second tap while the first is on its
 * way does nothing (and cannot come back as someone else's conflict). When `work` answers
 * `true` (it succeeded and the page is being drawn anew), the buttons stay disabled: a tap
 * landing before the new page is up would act on the old one.
 */
export async function busy(buttons, work) {
  const list = [buttons].flat().filter(Boolean);
  if (list.some((b) => b.disabled)) return undefined;
  list.forEach((b) => { b.disabled = true; b.setAttribute('aria-busy', 'true'); });
  let replaced = false;
  try {
    replaced = (await work()) === true;
    return replaced;
  } finally {
    if (!replaced) list.forEach((b) => { b.disabled = false; b.removeAttribute('aria-busy'); });
  }
}

function plain(err) {
  switch (err?.status) {
    case 0: return t('errNetwork');
    case 403: return t('errForbidden');
    case 404: return t('errNotFound');
    case 409: return t('errConflict');
    case 400:
    case 422: return t('errInvalid', { detail: err.detail });
    case 429: return t('errRate');
    default: return err?.status ? t('errServer') : String(err?.message || err);
  }
}

/**
 * A clock's countdown. The server says how much working time was left when it answered;
 * the page counts down from there (so a server whose clock differs from the phone's still
 * shows the right thing) and turns amber at the warning, red at the breach.
 */
export function countdown(clock) {
  const el = h('span', { class: 'countdown', role: 'timer' });
  el._clock = { clock, lead: clock.warn_before_secs ?? null, since: performance.now() };
  paint(el);
  return el;
}

function paint(el) {
  const { clock, lead, since } = el._clock;
  const running = clock.status === 'running';
  const left = clock.remaining_secs - (running ? (performance.now() - since) / 1000 : 0);
  const breached = clock.breached || left <= 0;
  const warned = !breached && (clock.warning || (lead !== null && left <= lead));
  el.classList.toggle('breach', breached);
  el.classList.toggle('warn', warned);
  el.dataset.state = breached ? 'breach' : warned ? 'warning' : 'ok';
  const words = clock.status === 'paused' ? t('paused') : breached ? t('over', { d: duration(left) }) : t('left', { d: duration(left) });
  el.textContent = (warned ? '⚠ ' : breached ? '⛔ ' : '') + words;
  el.title = clock.due ? t('by', { when: when(clock.due) }) : '';
}

setInterval(() => document.querySelectorAll('.countdown[role=timer]').forEach(paint), 1000);

/**
 * A photo from a phone, made small enough to send quickly on a weak connection: at most
 * `max` pixels on its longer side, as JPEG. Small images go as they are.
 */
export async function shrink(file, max = 1600) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, max / Math.max(bitmap.width, bitmap.height));
  if (scale === 1 && file.size <= 1024 * 1024 && /^image\/(jpeg|png|webp)$/.test(file.type)) return file;
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.82));
}

/** A file input for one photo, with its label. */
export function photoInput(id, text) {
  // No `capture`: on a phone that would open only the camera, not the photos already taken.
  const input = h('input', { type: 'file', id, accept: 'image/*' });
  return { input, field: h('p', {}, h('label', { for: id }, text), input) };
}

/** The clock that matters now: the running one with the least time left. */
export function urgentClock(ticket) {
  const live = ticket.clocks.filter((c) => (c.status === 'running' || c.status === 'paused') && c.remaining_secs !== null && c.remaining_secs !== undefined);
  live.sort((a, b) => a.remaining_secs - b.remaining_secs);
  return live[0] || null;
}
