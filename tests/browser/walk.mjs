// What the browser walks share: a phone-sized Chromium, signing in from a link, the API as
// another person, screenshots, axe-core, and the measures (fits the screen, tap targets).
//
// Run by tests/api/console.rs, which starts the server and passes (env): LINLI_BASE, LINLI_USERS
// (JSON: key → {id, name, token}), LINLI_CHROMIUM, LINLI_SCREENSHOTS, and what a walk needs.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const base = process.env.LINLI_BASE;
export const users = JSON.parse(process.env.LINLI_USERS);
export const shots = process.env.LINLI_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

// The service worker stays out unless a walk asks for it: requests it makes are its own, and
// a walk that holds or answers the page's requests (`page.route`) must see them.
export const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', serviceWorkers: 'block' };
export const TIMEOUT = 15000;

export function step(name) {
  console.log(`· ${name}`);
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.LINLI_CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** The API as someone (a demo user's key, or `{token}`), for what happens outside the pages under test. */
export async function api(user, method, path, body) {
  const bearer = typeof user === 'string' ? users[user].token : user.token;
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  return { status: res.status, data };
}

/** A page watched for script errors (collected in `page.problems`). */
export function watched(page, who) {
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of (401|404|409)|ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(m.text())) problems.push(`${who}: ${m.text()}`);
  });
  page.problems = problems;
  return page;
}

/** A demo user signed in on a phone of their own, from their link. */
export async function signIn(browser, user) {
  const context = await browser.newContext(PHONE);
  const page = watched(await context.newPage(), user);
  await page.goto(`${base}/#token=${users[user].token}`);
  await page.locator('#who').getByText(users[user].name).waitFor();
  // The token leaves the address bar and the history at once.
  assert.ok(!page.url().includes('token'), `the token stays out of the address: ${page.url()}`);
  return page;
}

export async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's WCAG 2 A and AA rules on the page as it is now (labels, names, contrast, focus
 * order, landmarks): any violation fails the walk, with what and where.
 */
export async function accessible(page, what) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }));
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  assert.ok(result.passes.length >= 10, `axe checked ${what}: ${result.passes.length} rules passed`);
  assert.deepEqual(found, [], `${what} has accessibility violations`);
}

/**
 * An image that has loaded and decoded (not a broken picture). A live redraw may replace the
 * picture while its bytes are on their way: the one on the page now is waited for.
 */
export async function shown(img) {
  await img.waitFor();
  for (let tries = 0; tries < 100; tries++) {
    const loaded = await img.evaluate((el) => el.complete && el.naturalWidth > 0).catch(() => false);
    if (loaded) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail('the photo shows');
}

/** Nothing wider than the 360 px screen (the tab bar scrolls by design). */
export async function fitsThePhone(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  const culprits = await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > 361 && !e.closest('.tabs'))
    .map((e) => `${e.tagName.toLowerCase()}.${e.className}`).slice(0, 5));
  assert.ok(width <= 360, `${what} is ${width}px wide on a 360px screen: ${culprits}`);
}

/**
 * Every control a thumb taps is at least 44 × 44 CSS px (WCAG 2.5.5): buttons, fields, radios
 * and checkboxes shown, the tabs, and the links that stand alone (not words inside a
 * sentence). A radio hidden under its tile or star is measured by the label that takes the tap.
 */
export async function tapTargets(page, what) {
  const small = await page.evaluate(() => {
    const controls = document.querySelectorAll(
      'button, select, textarea, input, a.button, .tabs a, .back, .board-link a, .footer a, .stars label, .tile label, a.card');
    const out = [];
    for (const el of controls) {
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none' || r.width === 0) continue;
      if (el.matches('input') && r.width <= 2) continue; // the label is the target
      if (r.width < 44 || r.height < 44) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
    return out;
  });
  assert.deepEqual(small, [], `${what}: tap targets under 44 px`);
}
