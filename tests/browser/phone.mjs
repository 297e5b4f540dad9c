// A walk on a 360×740 phone, in Chinese, through what people stumbled on: a secretary with
// seven tabs open, a double tap, the dispatch form's focus and its reasons, an empty form, a
// session revoked while a form is half filled, the network going and coming back, the proxy
// form's fields, English and the ledger's words, text at twice the size and 大字. Every page
// it meets passes axe-core and has no tap target under 44 px. Screenshots are written.
//
// Run by tests/api/console.rs (see walk.mjs).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  base, users, step, launch, api, signIn, watched, shot, accessible, fitsThePhone, tapTargets, PHONE,
} from './walk.mjs';

/** The page's main checks, each a step of its own kind: fits, taps, axe, a picture. */
async function looked(page, what, name) {
  await fitsThePhone(page, what);
  await tapTargets(page, what);
  await accessible(page, what);
  await shot(page, name);
}

/** A request worked through by the API to `completed`, the volunteer recording `hours`. */
async function worked(description, hours) {
  const made = await api('resident', 'POST', '/api/v1/tickets', { category: 'repair', description });
  assert.equal(made.status, 201);
  const id = made.data.id;
  for (const [who, action, body] of [
    ['secretary', 'triage'], ['secretary', 'dispatch', { assignee: users.member.id }],
    ['member', 'accept'], ['member', 'start'], ['member', 'complete', { hours }],
  ]) {
    const r = await api(who, 'POST', `/api/v1/tickets/${id}/actions/${action}`, body);
    assert.equal(r.status, 200, `${action}: ${JSON.stringify(r.data)}`);
  }
  return id;
}

/** A fresh console session for the resident, from a sign-in code's link, on `page`. */
async function codeLink(page) {
  const issued = await api('secretary', 'POST', `/api/v1/people/${users.resident.id}/sign-in-codes`);
  assert.equal(issued.status, 201, JSON.stringify(issued.data));
  await page.goto(issued.data.link);
  await page.locator('#who').getByText(users.resident.name).waitFor();
}

const browser = await launch();

try {
  step('seven tabs share one live connection, and every tab works');
  const desk = await browser.newContext(PHONE);
  const tabs = [];
  for (let i = 0; i < 7; i++) {
    const tab = watched(await desk.newPage(), `secretary tab ${i + 1}`);
    await tab.goto(i === 0 ? `${base}/#token=${users.secretary.token}` : `${base}/#/queue`);
    await tab.getByRole('heading', { name: '待办派单' }).waitFor();
    tabs.push(tab);
  }
  for (const tab of tabs) await tab.locator('#live[data-live="up"]').getByText('实时').waitFor();
  const asked = await api('resident', 'POST', '/api/v1/tickets', { category: 'repair', description: '七个标签页都要看到' });
  assert.equal(asked.status, 201);
  for (const tab of tabs) await tab.locator(`a.card[data-id="${asked.data.id}"]`).waitFor();
  const seventh = tabs[6];
  await shot(seventh, 'phone-1-seventh-tab');

  step('a double tap is taken once, and is nobody else\'s conflict');
  await seventh.locator(`a.card[data-id="${asked.data.id}"]`).click();
  await seventh.getByRole('button', { name: '受理' }).dblclick();
  await seventh.locator('article.ticket .state').getByText('已受理').waitFor();
  await seventh.waitForTimeout(500);
  const said = seventh.locator('#alert');
  assert.ok(await said.isHidden(), `no conflict said: ${await said.textContent()}`);
  const events = await api('secretary', 'GET', `/api/v1/tickets/${asked.data.id}/events`);
  assert.equal(events.data.filter((e) => e.kind === 'triage').length, 1, 'triaged once');

  step('派单: focus stays off the optional note, the last toast goes, reasons in words');
  await seventh.getByRole('button', { name: '派单', exact: true }).click();
  assert.equal(await seventh.evaluate(() => document.activeElement.tagName), 'H4', 'the form\'s heading has the focus');
  assert.equal(await seventh.locator('#toast.show').count(), 0, 'the toast is gone');
  const best = seventh.locator('ol.candidates li').first();
  await best.waitFor();
  assert.notEqual(await seventh.evaluate(() => document.activeElement.tagName), 'TEXTAREA', 'no keyboard over the candidates');
  const reasons = await seventh.locator('.reasons span').allTextContents();
  assert.ok(reasons.some((r) => r.startsWith('技能匹配: 维修')), `the skill in words: ${reasons}`);
  for (const r of reasons) {
    assert.doesNotMatch(r, /[a-z_]{3,}/, `a code in a reason: ${r}`);
    assert.doesNotMatch(r, / 0$/, `a reason worth nothing: ${r}`);
  }
  await looked(seventh, 'the dispatch form', 'phone-2-dispatch');
  await seventh.getByRole('button', { name: '取消' }).click();
  await desk.close();

  step('an empty form says what is missing, in words, where');
  // Her phone lets the service worker in: the console is installed on her home screen.
  const resident = watched(await (await browser.newContext({ ...PHONE, serviceWorkers: 'allow' })).newPage(), 'resident');
  await codeLink(resident);
  await resident.getByRole('link', { name: '我要点单' }).first().click();
  await resident.getByRole('heading', { name: '我要点单' }).waitFor();
  await resident.getByRole('button', { name: '提交' }).click();
  await resident.getByRole('alert').getByText('请先选择需要什么帮助。').waitFor();
  assert.equal(await resident.evaluate(() => document.activeElement.name), 'category', 'the first choice has the focus');
  await looked(resident, 'the request form', 'phone-3-empty-form');

  step('a session revoked on a half-filled form signs out, and the words come back');
  await resident.getByRole('radio', { name: '维修' }).check();
  await resident.getByLabel('说说具体情况').fill('厨房水管滴水，写了一半');
  const session = { token: await resident.evaluate(() => localStorage.getItem('linli.token')) };
  assert.equal((await api(session, 'DELETE', '/api/v1/sessions/current')).status, 204);
  await resident.getByRole('button', { name: '提交' }).click();
  await resident.getByText('登录已失效').waitFor();
  await resident.getByRole('heading', { name: '登录邻里' }).waitFor();
  assert.ok(await resident.locator('#live').isHidden(), 'no "live" on a signed-out page');
  await codeLink(resident);
  await resident.getByRole('heading', { name: '我要点单' }).waitFor();
  assert.equal(await resident.getByLabel('说说具体情况').inputValue(), '厨房水管滴水，写了一半');
  await resident.getByText('已恢复您刚才填写的内容').waitFor();
  const mine = await api('resident', 'GET', '/api/v1/tickets?limit=100');
  assert.ok(!mine.data.items.some((i) => i.description.startsWith('厨房水管滴水')), 'nothing went in while signed out');

  step('installable; offline says so at once, shows the last lists and queues nothing');
  const manifest = await (await fetch(base + await resident.locator('link[rel=manifest]').getAttribute('href'))).json();
  assert.equal(manifest.short_name, '邻里');
  await resident.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await resident.getByRole('link', { name: '我的诉求' }).click();
  await resident.getByRole('heading', { name: '我的诉求' }).waitFor();
  await resident.locator('#live[data-live="up"]').waitFor();
  await resident.context().setOffline(true);
  await resident.locator('#live[data-live="down"]').waitFor({ timeout: 5000 }); // not the 20 s a phone once showed "实时" offline
  await resident.getByRole('link', { name: '我要点单' }).first().click();
  await resident.getByRole('radio', { name: '维修' }).check();
  await resident.getByLabel('说说具体情况').fill('断网时写的');
  await resident.getByRole('button', { name: '提交' }).click();
  await resident.getByRole('alert').getByText('网络连接不上').waitFor();
  // Her requests as last seen, said so; and again when the page is opened anew, offline.
  await resident.getByRole('link', { name: '我的诉求' }).click();
  await resident.getByRole('heading', { name: '我的诉求' }).waitFor();
  await resident.getByText('显示的是上次联网时的内容').waitFor();
  await resident.reload();
  await resident.getByRole('heading', { name: '我的诉求' }).waitFor();
  await resident.getByText('显示的是上次联网时的内容').waitFor();
  await shot(resident, 'phone-4-offline');
  await resident.context().setOffline(false);
  await resident.locator('#live[data-live="up"]').waitFor({ timeout: 10000 });
  await resident.getByRole('alert').waitFor({ state: 'hidden', timeout: 10000 });
  // Only the lists and requests are kept on the phone: not her data export, not photos.
  const keys = await resident.evaluate(async () => {
    const token = localStorage.getItem('linli.token');
    await fetch('/api/v1/me/export', { headers: { Authorization: `Bearer ${token}` } });
    return (await (await caches.open('linli-lists')).keys()).map((r) => new URL(r.url).pathname);
  });
  assert.ok(keys.includes('/api/v1/me') && keys.some((k) => k.startsWith('/api/v1/tickets')), `kept: ${keys}`);
  assert.ok(!keys.some((k) => k.includes('export') || k.includes('photos')), `kept: ${keys}`);
  const sent = await api('resident', 'GET', '/api/v1/tickets?limit=100');
  assert.ok(!sent.data.items.some((i) => i.description === '断网时写的'), 'nothing sent later, unseen');

  step('text at twice the size still fits; 大字 makes it larger still');
  const root = await resident.evaluate(() => [...document.styleSheets].flatMap((s) => [...s.cssRules])
    .find((r) => r.selectorText === ':root').style.fontSize);
  assert.match(root, /%$/, `the root size follows the phone's setting: ${root}`);
  await resident.evaluate(() => { document.documentElement.style.fontSize = '225%'; });
  await resident.getByRole('link', { name: '我的诉求' }).click();
  await resident.getByRole('heading', { name: '我的诉求' }).waitFor();
  await fitsThePhone(resident, 'the resident\'s home at 200 % text');
  await resident.getByRole('link', { name: '我要点单' }).first().click();
  await fitsThePhone(resident, 'the request form at 200 % text');
  await shot(resident, 'phone-5-double-text');
  await resident.evaluate(() => { document.documentElement.style.fontSize = ''; });
  const before = await resident.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  await resident.getByRole('button', { name: '大字' }).click();
  const after = await resident.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  assert.ok(after >= before * 1.2, `大字: ${before}px → ${after}px`);
  await resident.getByRole('link', { name: '我的诉求' }).click();
  await looked(resident, 'the resident\'s home in 大字', 'phone-6-large');
  await resident.getByRole('button', { name: '大字' }).click();

  step('rating: stars told apart by shape, each a thumb wide');
  const done = await worked('阳台灯不亮', 1.5);
  await resident.goto(`${base}/#/t/${done}`);
  await resident.getByRole('button', { name: '评价' }).click();
  assert.equal(await resident.locator('.stars label .off:visible').count(), 5, 'outline stars before choosing');
  await resident.locator('.stars label[for="star-4"]').click();
  assert.equal(await resident.locator('.stars label .on:visible').count(), 4, 'four filled stars');
  await looked(resident, 'the rating form', 'phone-7-rating');
  await resident.getByRole('button', { name: '确认 评价' }).click();
  await resident.locator('article.ticket .state').getByText('已办结').waitFor();
  // Her history, newest first, and the clocks are the system's, not hers.
  const first = await resident.locator('.history li').first().textContent();
  assert.match(first, /评价/, `the newest first: ${first}`);
  const hers = await resident.locator('.history li', { hasText: '计时' }).allTextContents();
  assert.ok(hers.every((l) => l.includes('系统')), `automatic events are the system's: ${hers}`);

  step('the proxy form\'s fields are as large as the others');
  const member = await signIn(browser, 'member');
  await member.getByRole('link', { name: '代办录入' }).click();
  await member.getByRole('heading', { name: '为居民代办' }).waitFor();
  await member.getByLabel('居民电话（完整号码）').fill('13912345678');
  await member.getByRole('button', { name: '查找' }).click();
  await member.getByLabel(/王奶奶/).waitFor();
  for (const field of ['#f-resident-phone', '#f-channel']) {
    const size = await member.locator(field).evaluate((e) => ({
      height: e.getBoundingClientRect().height, font: parseFloat(getComputedStyle(e).fontSize),
    }));
    assert.ok(size.height >= 44 && size.font >= 16, `${field}: ${JSON.stringify(size)}`);
  }
  await looked(member, 'the proxy form', 'phone-8-proxy');

  step('English all through; hours in the page\'s own words');
  await member.getByRole('button', { name: 'English' }).click();
  await member.locator('#live').getByText('Live').waitFor();
  await member.getByRole('button', { name: '中文' }).click();
  await member.getByRole('link', { name: '时长积分' }).click();
  await member.getByText('1.5 小时').first().waitFor();
  await looked(member, 'the hours page', 'phone-9-hours');

  step('a certificate of service, asked for on the phone and verifiable by anyone');
  await member.getByLabel('证件类型').selectOption('passport');
  await member.getByLabel('证件号码').fill('E12345678');
  await member.getByRole('button', { name: '开具证明' }).click();
  const paper = member.getByRole('group', { name: '志愿服务证明' });
  await paper.getByText(/尾号 5678/).waitFor();
  assert.ok(!(await paper.textContent()).includes('E12345678'), 'the full number is not printed');
  const verifyAt = (await paper.locator('.verify-at').textContent()).replace('核验：', '');
  const checked = await fetch(verifyAt);
  assert.equal(checked.status, 200);
  assert.match(await checked.text(), /真实有效/);
  await paper.getByText('负责人：刘书记').waitFor();
  // And as a PDF, downloaded with the page's own token.
  const [saved] = await Promise.all([
    member.waitForEvent('download'),
    paper.getByRole('button', { name: '下载 PDF' }).click(),
  ]);
  assert.match(saved.suggestedFilename(), /^certificate-.+\.pdf$/);
  const pdf = readFileSync(await saved.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  await looked(member, 'the hours page with a certificate', 'phone-10-certificate');

  step('the secretary\'s pages');
  const secretary = await signIn(browser, 'secretary');
  await looked(secretary, 'the queue', 'phone-11-queue');
  await secretary.getByRole('link', { name: '支部数据' }).click();
  await secretary.getByRole('heading', { name: /支部数据/ }).waitFor();
  await looked(secretary, 'the figures', 'phone-12-figures');

  const problems = [resident, member, secretary, ...tabs].flatMap((p) => p.problems);
  assert.deepEqual(problems, [], 'no script errors on any page');
  console.log('phone: all steps passed');
} finally {
  await browser.close();
}
