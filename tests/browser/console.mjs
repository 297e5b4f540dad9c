// The web console end to end in a real headless Chromium, on a phone-sized screen, in Chinese:
// a resident asks for help, the secretary triages and dispatches from the ranked candidates, the
// volunteer sees the dispatch arrive without reloading, works it and completes it, the resident
// rates it. Also: the countdown of an overdue request shows the breach, a lost accept race is a
// plain message, a late answer for a page left behind does not replace the page shown, English on
// request, sign-out; an office registers a resident who signs in with a one-time code (typed,
// and from a QR code's link), asks for help and signs out. Screenshots of each role's pages are written.
//
// Run by tests/api/console.rs (see walk.mjs), with LINLI_OVERDUE: an overdue request's id, and
// LINLI_HOTLINE_TICKET: a confidential 12345 order's.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  base, users, step, launch, api, signIn, watched, shot, accessible, shown, fitsThePhone, PHONE,
} from './walk.mjs';

const overdue = process.env.LINLI_OVERDUE;
const hotlineTicket = process.env.LINLI_HOTLINE_TICKET;
const photo = new URL('../fixtures/photo.png', import.meta.url).pathname;

/** Marks the page; `sameDocument` says it was never reloaded since. */
async function mark(page) {
  await page.evaluate(() => { window.__linliMark = 1; });
}
async function sameDocument(page) {
  return page.evaluate(() => window.__linliMark === 1);
}

const browser = await launch();

try {
  step('three people sign in with their links');
  const resident = await signIn(browser, 'resident');
  const secretary = await signIn(browser, 'secretary');
  const member = await signIn(browser, 'member');
  assert.equal(await resident.getAttribute('html', 'lang'), 'zh-CN');

  step('the resident asks for help in a few taps');
  await resident.getByRole('heading', { name: '我的诉求' }).waitFor();
  await accessible(resident, 'the resident\'s home');
  await shot(resident, 'resident-1-home');
  await resident.getByRole('link', { name: '我要点单' }).first().click();
  await resident.getByRole('heading', { name: '我要点单' }).waitFor();
  await resident.getByRole('radio', { name: '维修' }).check();
  await resident.getByLabel('说说具体情况').fill('楼道灯坏了，晚上看不见 💡');
  await resident.getByText('很急，需要尽快处理').click();
  await resident.getByText('荷花塘小区1栋').waitFor(); // where: prefilled from home
  await resident.getByLabel('照片（可选）').setInputFiles(photo);
  await fitsThePhone(resident, 'the request form');
  await accessible(resident, 'the request form');
  await shot(resident, 'resident-2-new-request');
  await resident.getByRole('button', { name: '提交' }).click();
  await resident.locator('article.ticket .state').getByText('待受理').waitFor();
  const id = (await resident.locator('article.ticket').evaluate(() => location.hash)).split('/').pop();
  assert.match(id, /^[0-9a-f-]{36}$/);
  await resident.getByText('楼道灯坏了，晚上看不见 💡').waitFor();
  await shown(resident.getByRole('img', { name: '居民提交的照片 1' }));
  await shot(resident, 'resident-3-submitted');

  step('the volunteer waits on "my orders"');
  await member.getByRole('heading', { name: '我的订单' }).waitFor();
  await mark(member);

  step('the secretary sees the queue, the overdue request in red');
  await secretary.getByRole('heading', { name: '待办派单' }).waitFor();
  const late = secretary.locator(`a.card[data-id="${overdue}"] .countdown`);
  await late.waitFor();
  assert.equal(await late.getAttribute('data-state'), 'breach');
  assert.match(await late.textContent(), /已超时/);
  assert.equal(await late.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(183, 28, 28)');
  const fresh = secretary.locator(`a.card[data-id="${id}"]`);
  await fresh.waitFor();
  assert.equal(await fresh.locator('.countdown').getAttribute('data-state'), 'ok');
  // Urgent first: the new urgent request heads the queue.
  assert.equal(await secretary.locator('a.card').first().getAttribute('data-id'), id);
  await fitsThePhone(secretary, 'the queue');
  await accessible(secretary, 'the queue');
  await shot(secretary, 'secretary-1-queue');

  step('the secretary triages and dispatches from the ranked candidates');
  await fresh.click();
  await secretary.getByRole('button', { name: '受理' }).click();
  await secretary.locator('article.ticket .state').getByText('已受理').waitFor();
  await secretary.getByRole('button', { name: '派单', exact: true }).click();
  const best = secretary.locator('ol.candidates li').first();
  await best.waitFor();
  assert.match(await best.textContent(), /技能匹配|skill/i, 'the reasons are shown');
  await accessible(secretary, 'the dispatch form');
  await shot(secretary, 'secretary-2-dispatch');
  await secretary.getByLabel(new RegExp(users.member.name)).check();
  await secretary.getByRole('button', { name: '确认 派单' }).click();
  await secretary.locator('article.ticket .state').getByText('已派单').waitFor();
  await secretary.locator('.history').getByText('派单').first().waitFor();
  await shot(secretary, 'secretary-3-dispatched');

  step('the dispatch appears on the volunteer\'s page without a reload');
  await member.locator(`a.card[data-id="${id}"]`).waitFor();
  assert.ok(await sameDocument(member), 'the page was not reloaded');
  await shot(member, 'volunteer-1-orders');

  step('the volunteer accepts, starts, adds a note and completes with hours');
  await member.locator(`a.card[data-id="${id}"]`).click();
  await member.getByRole('button', { name: '接单' }).click();
  await member.locator('article.ticket .state').getByText('已接单').waitFor();
  await member.getByRole('button', { name: '开始办理' }).click();
  await member.locator('article.ticket .state').getByText('办理中').waitFor();
  await member.getByRole('button', { name: '添加备注' }).click();
  await member.getByLabel('备注').fill('已买好灯泡，马上到');
  await member.getByRole('button', { name: '确认 添加备注' }).click();
  await member.locator('.history').getByText('已买好灯泡，马上到').waitFor();
  await member.getByRole('button', { name: '办结' }).click();
  await member.getByLabel('服务时长（小时）').fill('1.5');
  await member.getByLabel('完成后的照片（可选）').setInputFiles(photo);
  await accessible(member, 'the completion form');
  await shot(member, 'volunteer-2-complete');
  await member.getByRole('button', { name: '确认 办结' }).click();
  await member.locator('article.ticket .state').getByText('待评价').waitFor();

  step('the resident sees it done and rates it with stars');
  // The resident's page is still the request's: the stream brought the change.
  await resident.locator('article.ticket .state').getByText('待评价').waitFor();
  await shown(resident.getByRole('img', { name: '办理后的照片 1' }));
  await resident.getByRole('button', { name: '评价' }).click();
  // The visible star, not its screen-reader text: a forced click on that 1-pixel text once
  // landed on a toast shown over it, and no star was chosen. Playwright waits until the star
  // itself takes the click.
  await resident.locator('label[for="star-5"]').click();
  assert.ok(await resident.locator('#star-5').isChecked(), 'five stars chosen');
  await resident.getByLabel('备注').fill('谢谢王师傅！');
  await accessible(resident, 'the rating form');
  await shot(resident, 'resident-4-rate');
  await resident.getByRole('button', { name: '确认 评价' }).click();
  await resident.locator('article.ticket .state').getByText('已办结').waitFor();
  const trail = await resident.locator('.history').textContent();
  for (const word of ['提交诉求', '受理', '派单', '接单', '开始办理', '办结', '评价', '谢谢王师傅！']) {
    assert.ok(trail.includes(word), `the history says ${word}: ${trail}`);
  }
  await fitsThePhone(resident, 'the request page');
  await shot(resident, 'resident-5-closed');

  step('the volunteer\'s hours and points, the branch\'s figures');
  await member.getByRole('link', { name: '时长积分' }).click();
  await member.getByRole('heading', { name: '我的时长和积分' }).waitFor();
  await member.locator('.figure .value', { hasText: /^1\.5$/ }).waitFor();
  await accessible(member, 'the hours page');
  await shot(member, 'volunteer-3-hours');
  await secretary.getByRole('link', { name: '支部数据' }).click();
  await secretary.getByRole('heading', { name: /支部数据/ }).waitFor();
  await secretary.getByText('满意率', { exact: true }).waitFor();
  // Each rate says what it divides by.
  await secretary.locator('p.means', { hasText: '已超时仍未完成的' }).waitFor();
  await secretary.getByText(/及时率/).first().waitFor();
  await secretary.locator('table.bars .meter').first().waitFor();
  await fitsThePhone(secretary, 'the figures');
  await accessible(secretary, 'the figures');
  await shot(secretary, 'secretary-4-figures');

  step('a lost accept race is a plain message, not a blank page');
  const pooled = await api('resident', 'POST', '/api/v1/tickets', { category: 'repair', description: '水管漏水' });
  assert.equal(pooled.status, 201);
  assert.equal((await api('secretary', 'POST', `/api/v1/tickets/${pooled.data.id}/actions/triage`)).status, 200);
  const teams = await api('secretary', 'GET', '/api/v1/teams');
  const team = teams.data.find((t) => t.name === '和事佬志愿服务队');
  assert.equal((await api('secretary', 'POST', `/api/v1/tickets/${pooled.data.id}/actions/dispatch`, { team: team.id })).status, 200);
  await member.getByRole('link', { name: '团队抢单' }).click();
  await member.locator(`a.card[data-id="${pooled.data.id}"]`).click();
  await member.getByRole('button', { name: '接单' }).waitFor();
  await shot(member, 'volunteer-4-pool-request');
  // Another volunteer of the team accepts while this one's accept is on its way.
  await member.route('**/actions/accept', async (route) => {
    const other = await api('doctor', 'POST', `/api/v1/tickets/${pooled.data.id}/actions/accept`);
    assert.equal(other.status, 200);
    await route.continue();
  });
  await member.getByRole('button', { name: '接单' }).click();
  const alert = member.getByRole('alert');
  await alert.getByText('这件事刚刚被别人处理了').waitFor();
  await member.locator('main h2').first().waitFor(); // a page, not a blank
  await accessible(member, 'the page with an error');
  await shot(member, 'volunteer-5-lost-race');

  step('the secretary merges a repeated request into the first (并单)');
  const first = await api('resident', 'POST', '/api/v1/tickets', { category: 'repair', description: '3楼楼道灯不亮' });
  const repeat = await api('supervisor', 'POST', '/api/v1/tickets', { category: 'repair', description: '楼道灯又不亮了' });
  assert.equal(first.status, 201);
  assert.equal(repeat.status, 201);
  await secretary.goto(`${base}/#/t/${repeat.data.id}`);
  const merge = secretary.getByRole('button', { name: '并单', exact: true });
  await merge.waitFor();
  // A page left while its answer was on the way: the late answer must not replace this one.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await secretary.route('**/api/v1/stats*', async (route) => { await held; await route.continue(); });
  // Left once its answer is asked for (not before: both hash changes would be read as one).
  const asked = secretary.waitForRequest('**/api/v1/stats*');
  await secretary.getByRole('link', { name: '支部数据' }).click();
  await asked;
  await secretary.goto(`${base}/#/t/${repeat.data.id}`);
  await merge.waitFor();
  const lateStats = secretary.waitForResponse('**/api/v1/stats*');
  release();
  await lateStats;
  await secretary.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
  assert.equal(await merge.count(), 1, 'the late answer for the page left behind replaced the request shown');
  await secretary.unroute('**/api/v1/stats*');
  await merge.click();
  await secretary.getByText('同一栋楼').first().waitFor();
  await secretary.getByLabel(/3楼楼道灯不亮/).check();
  await accessible(secretary, 'the merge form');
  await fitsThePhone(secretary, 'the merge form');
  await shot(secretary, 'secretary-6-merge');
  await secretary.getByRole('button', { name: '确认 并单' }).click();
  await secretary.locator('article.ticket .state').getByText('已并单').waitFor();
  await secretary.locator('.facts').getByText('已并入').waitFor();
  await secretary.locator('.history').getByText('并入另一件诉求').waitFor();

  step('a volunteer enters a request for a resident who phoned (代办)');
  await member.getByRole('link', { name: '代办录入' }).click();
  await member.getByRole('heading', { name: '为居民代办' }).waitFor();
  await member.getByLabel('居民电话（完整号码）').fill('13912345678');
  await member.getByRole('button', { name: '查找' }).click();
  await member.getByLabel(/王奶奶/).check();
  await member.getByLabel('居民是怎么找来的').selectOption('phone');
  await member.getByRole('radio', { name: '助老服务' }).check();
  await member.getByLabel('说说具体情况').fill('王奶奶来电：想请人陪同去医院复诊');
  await fitsThePhone(member, 'the proxy form');
  await accessible(member, 'the proxy form');
  await shot(member, 'volunteer-7-proxy');
  await member.getByRole('button', { name: '提交' }).click();
  await member.getByText('已为王奶奶提交').waitFor();
  const hers = await api('resident', 'GET', '/api/v1/tickets');
  const entered = hers.data.items.find((i) => i.description === '王奶奶来电：想请人陪同去医院复诊');
  assert.ok(entered, 'the request is the resident\'s');
  assert.equal(entered.channel, 'phone');
  assert.equal(entered.proxy_id, users.member.id);
  // The volunteer follows what they entered, under the form.
  await member.locator(`.entered a[data-id="${entered.id}"]`).waitFor();
  await accessible(member, 'the proxy page with what was entered');

  step('a residents\' representative sees what is overdue, and nothing personal (督单)');
  const supervisor = await signIn(browser, 'supervisor');
  await supervisor.getByRole('heading', { name: '超时未办的诉求' }).waitFor();
  await supervisor.locator(`.overdue li[data-id="${overdue}"]`).waitFor();
  const seen = await supervisor.locator('main').textContent();
  for (const secret of ['王奶奶', '13912345678', '单元门坏了']) {
    assert.ok(!seen.includes(secret), `oversight shows ${secret}`);
  }
  const board = supervisor.getByRole('link', { name: '社区晒单（公开）' });
  await board.waitFor();
  await fitsThePhone(supervisor, 'the oversight page');
  await accessible(supervisor, 'the oversight page');
  await shot(supervisor, 'supervisor-1-oversight');
  await board.click();
  await supervisor.waitForURL(/\/board\//);
  await supervisor.getByText(/满意率/).first().waitFor();
  await shot(supervisor, 'supervisor-2-board');

  step('a 12345 order: its number and the platform\'s deadline; its confidential caller hidden but from the office');
  await secretary.goto(`${base}/#/t/${hotlineTicket}`);
  await secretary.locator('article.ticket .state').getByText('待签收').waitFor();
  await secretary.getByText('GD-CONSOLE-1 · 投诉').waitFor();
  await secretary.locator('dt', { hasText: '平台办理时限' }).waitFor();
  await secretary.locator('dd', { hasText: '（保密）' }).waitFor();
  const branchSees = await secretary.locator('main').textContent();
  for (const secret of ['郑阿姨', '13922223333']) {
    assert.ok(!branchSees.includes(secret), `the branch sees the confidential caller's ${secret}`);
  }
  await accessible(secretary, 'a hotline order');
  await shot(secretary, 'secretary-6-hotline-order');
  const hotlineOffice = await signIn(browser, 'community');
  await hotlineOffice.goto(`${base}/#/t/${hotlineTicket}`);
  await hotlineOffice.getByText(/郑阿姨.*保密件/).waitFor();
  await secretary.getByRole('button', { name: '签收' }).click();
  await secretary.locator('article.ticket .state').getByText('已签收').waitFor();

  step('an administrator sees the notifications that could not be delivered (消息投递)');
  const admin = await signIn(browser, 'admin');
  await admin.getByRole('heading', { name: '投递失败的消息' }).waitFor();
  await admin.getByText(/正在排队投递：\d+ 条/).waitFor();
  await admin.getByText('没有投递失败的消息。').waitFor();
  await fitsThePhone(admin, 'the deliveries page');
  await accessible(admin, 'the deliveries page');
  await shot(admin, 'admin-1-deliveries');

  step('English on request');
  await member.getByRole('button', { name: 'English' }).click();
  await member.getByRole('link', { name: 'My orders' }).waitFor();
  assert.equal(await member.getAttribute('html', 'lang'), 'en');
  await member.getByRole('link', { name: 'Hours & points' }).click();
  await member.getByRole('heading', { name: 'My hours and points' }).waitFor();
  await shot(member, 'volunteer-6-english');
  await member.getByRole('button', { name: '中文' }).click();
  await member.getByRole('heading', { name: '我的时长和积分' }).waitFor();

  step('the secretary registers a resident who phoned and hands her a sign-in code');
  await secretary.getByRole('link', { name: '居民与志愿者' }).click();
  await secretary.getByRole('heading', { name: '居民与志愿者' }).waitFor();
  await secretary.getByLabel('姓名').fill('赵奶奶');
  await secretary.getByLabel('电话（可不填）').fill('13911112222');
  await secretary.getByLabel('住在哪栋楼').selectOption({ label: '荷花塘小区1栋' });
  await secretary.getByRole('button', { name: '登记' }).click();
  const slip = secretary.getByRole('group', { name: '赵奶奶 的登录码' });
  await slip.waitFor();
  const code = (await slip.locator('.slip-code').textContent()).trim();
  assert.match(code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
  await shown(slip.getByRole('img', { name: '登录二维码' }));
  await fitsThePhone(secretary, 'the people page');
  await accessible(secretary, 'the people page');
  await shot(secretary, 'secretary-5-sign-in-code');

  step('she types the code on her own phone, asks for help, signs out');
  const grandma = watched(await (await browser.newContext(PHONE)).newPage(), 'grandma');
  await grandma.goto(base + '/');
  await grandma.getByRole('heading', { name: '登录邻里' }).waitFor();
  await accessible(grandma, 'the sign-in page');
  await shot(grandma, 'grandma-1-sign-in');
  await grandma.getByLabel('登录码').fill(code.toLowerCase().replace('-', ' '));
  await grandma.getByRole('button', { name: '登录' }).first().click();
  await grandma.locator('#who').getByText('赵奶奶').waitFor();
  const session = await grandma.evaluate(() => localStorage.getItem('linli.token'));
  assert.match(session, /^ll_/);
  await grandma.getByRole('link', { name: '我要点单' }).first().click();
  await grandma.getByRole('radio', { name: '维修' }).check();
  await grandma.getByLabel('说说具体情况').fill('厨房水龙头一直滴水');
  await grandma.getByRole('button', { name: '提交' }).click();
  await grandma.locator('article.ticket .state').getByText('待受理').waitFor();
  // 我的数据: everything held about her, downloaded as a file.
  const [download] = await Promise.all([
    grandma.waitForEvent('download'),
    grandma.getByRole('button', { name: '我的数据' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^linli-my-data-\d{8}\.zip$/);
  const mine = JSON.parse(firstStoredEntry(readFileSync(await download.path()), 'my-data.json'));
  assert.equal(mine.profile.name, '赵奶奶');
  assert.equal(mine.requests[0].description, '厨房水龙头一直滴水');
  const privacy = await fetch(base + '/console/privacy.md');
  assert.equal(privacy.status, 200);
  assert.match(await privacy.text(), /隐私说明/);
  await grandma.getByRole('button', { name: '退出' }).click();
  await grandma.getByRole('heading', { name: '登录邻里' }).waitFor();
  const refused = await fetch(base + '/api/v1/me', { headers: { Authorization: `Bearer ${session}` } });
  assert.equal(refused.status, 401, 'the signed-out session token is refused');
  const reused = await fetch(base + '/api/v1/sessions', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }),
  });
  assert.equal(reused.status, 401, 'a code works once');
  // Her slip is lost: she asks for a new code; the secretary sees her waiting.
  await grandma.getByText('没有登录码？请社区发一个').click();
  await grandma.getByLabel('您在社区登记的电话').fill('13911112222');
  await grandma.getByRole('button', { name: '请社区发登录码' }).click();
  await grandma.getByText('已转告社区').waitFor();
  await secretary.getByRole('link', { name: '居民与志愿者' }).click();
  await secretary.getByRole('heading', { name: '居民与志愿者' }).waitFor();
  await secretary.getByRole('link', { name: '待办派单' }).click();
  await secretary.getByRole('link', { name: '居民与志愿者' }).click();
  const asks = secretary.getByRole('region', { name: '1 位居民在等登录码' });
  await asks.getByText('赵奶奶').waitFor();

  step('a QR code\'s link signs in; disabling her ends that session');
  const issued = await api('secretary', 'POST', `/api/v1/people/${(await api('secretary', 'GET', '/api/v1/people?phone=13911112222')).data[0].id}/sign-in-codes`);
  assert.equal(issued.status, 201);
  await grandma.goto(issued.data.link);
  await grandma.locator('#who').getByText('赵奶奶').waitFor();
  assert.ok(!grandma.url().includes('code='), `the code stays out of the address: ${grandma.url()}`);
  const scanned = await grandma.evaluate(() => localStorage.getItem('linli.token'));
  await secretary.getByRole('link', { name: '居民与志愿者' }).click();
  const row = secretary.locator('.people-list li', { hasText: '赵奶奶' });
  await row.getByRole('button', { name: '停用' }).click();
  await row.getByText('已停用').waitFor();
  const disabled = await fetch(base + '/api/v1/me', { headers: { Authorization: `Bearer ${scanned}` } });
  assert.equal(disabled.status, 401, 'a disabled person\'s session is refused');
  await row.getByRole('button', { name: '启用' }).click();
  await row.getByRole('button', { name: '停用' }).waitFor();
  // One more, left signed in: the test ages it past its idle time and sees it refused.
  const last = await api('secretary', 'POST', `/api/v1/people/${(await api('secretary', 'GET', '/api/v1/people?phone=13911112222')).data[0].id}/sign-in-codes`);
  await grandma.goto(last.data.link);
  await grandma.locator('#who').getByText('赵奶奶').waitFor();
  console.log(`live-session: ${await grandma.evaluate(() => localStorage.getItem('linli.token'))}`);

  step('双报到: a member reports in, a newcomer from the poster\'s code; the office takes them in and signs the sheet');
  const office = await signIn(browser, 'community');
  await office.getByRole('link', { name: '双报到' }).click();
  await office.getByRole('heading', { name: '在职党员双报到' }).waitFor();
  await office.getByRole('button', { name: '发布报到码' }).click();
  const poster = office.locator('.code .slip-code');
  await poster.waitFor();
  const reportCode = (await poster.textContent()).trim();
  await shown(office.getByRole('img', { name: '报到二维码' }));
  const newcomer = watched(await (await browser.newContext(PHONE)).newPage(), 'newcomer');
  await newcomer.goto(`${base}/#report-in/${reportCode}`);
  await newcomer.getByRole('heading', { name: '到荷花塘社区报到' }).waitFor();
  await newcomer.getByLabel('您的姓名').fill('孙老师');
  await newcomer.getByLabel('手机号码').fill('13700001111');
  await newcomer.getByLabel('工作单位').fill('区税务局');
  await newcomer.getByLabel('所在党组织').fill('区税务局机关党支部');
  await newcomer.getByLabel('报到岗位').selectOption('助老');
  await fitsThePhone(newcomer, 'the report-in form');
  await accessible(newcomer, 'the report-in form');
  await shot(newcomer, 'newcomer-1-report-in');
  await newcomer.getByRole('button', { name: '提交报到' }).click();
  await newcomer.getByText('已收到！荷花塘社区会尽快审核并联系您。').waitFor();
  // From another page: the hours page shown since the English step is not the one to type into.
  await member.getByRole('link', { name: '我的订单' }).click();
  await member.getByRole('heading', { name: '我的订单' }).waitFor();
  await member.getByRole('link', { name: '时长积分' }).click();
  await member.getByRole('heading', { name: '到社区报到（双报到）' }).waitFor();
  await member.getByLabel('工作单位').fill('区税务局');
  await member.getByLabel('所在党组织').fill('区税务局机关党支部');
  await member.getByLabel('报到岗位').selectOption('和事佬调解员');
  await member.getByRole('button', { name: '提交报到' }).click();
  await member.getByText(/正等社区审核/).waitFor();
  await office.getByRole('link', { name: '双报到' }).click();
  await office.getByRole('heading', { name: '待审核的报到（2）' }).waitFor();
  for (const who of ['孙老师', '王师傅']) {
    await office.locator('li', { hasText: who }).getByRole('button', { name: '同意', exact: true }).click();
    await office.getByText(`已同意${who}报到。`).waitFor();
  }
  await office.getByRole('heading', { name: '待审核的报到（0）' }).waitFor();
  const sheet = office.locator('.sheet-list li', { hasText: '区税务局' });
  await sheet.getByLabel('社区意见').fill('表现突出，服务认真。');
  await sheet.getByRole('button', { name: '签发反馈单' }).click();
  await sheet.getByText(/已签发/).waitFor();
  await fitsThePhone(office, 'the reporting-in page');
  await accessible(office, 'the reporting-in page');
  await shot(office, 'office-1-reporting-in');
  const [printed] = await Promise.all([
    office.waitForEvent('popup'),
    sheet.getByRole('button', { name: '打印 / 发给单位' }).click(),
  ]);
  await printed.getByRole('heading', { name: '在职党员到社区报到服务情况反馈单' }).waitFor();
  await printed.getByText('王师傅').first().waitFor();
  await printed.getByText('表现突出，服务认真。').waitFor();
  await shot(printed, 'office-2-feedback-sheet');
  await member.getByRole('link', { name: '时长积分' }).click();
  await member.locator('.profile').getByText('区税务局', { exact: true }).waitFor();

  step('时间银行: hours given are banked; a resident pays for help with hours, her passbook shows it');
  const repairId = users.yunhe_repair.id;
  const job = await api('yunhe_resident', 'POST', '/api/v1/tickets', { category: 'repair', description: '水龙头坏了' });
  for (const [who, action, body] of [
    ['yunhe_secretary', 'triage'], ['yunhe_secretary', 'dispatch', { assignee: repairId }],
    ['yunhe_repair', 'accept'], ['yunhe_repair', 'start'], ['yunhe_repair', 'complete', { hours: 1.5 }],
    ['yunhe_resident', 'confirm', { rating: 5 }],
  ]) {
    assert.equal((await api(who, 'POST', `/api/v1/tickets/${job.data.id}/actions/${action}`, body)).status, 200, action);
  }
  assert.equal((await api('yunhe_repair', 'POST', '/api/v1/me/time-bank/donations', { hours: 1 })).status, 201);
  // The office grants the pool's hour to an old man living alone, and confirms a relative.
  const bankOffice = await signIn(browser, 'yunhe_community');
  await bankOffice.getByRole('link', { name: '时间银行' }).click();
  await bankOffice.getByRole('heading', { name: '社区时间银行' }).waitFor();
  await bankOffice.locator('.figure', { hasText: '爱心池' }).locator('.value', { hasText: /^1\.0$/ }).waitFor();
  await bankOffice.getByLabel('赠予谁（手机号码）').fill('13987654321');
  await bankOffice.getByLabel('转赠多少小时').fill('1');
  await bankOffice.getByLabel('原因').fill('独居老人');
  await bankOffice.getByRole('button', { name: '赠予' }).click();
  await bankOffice.getByText('已赠予张大爷。').waitFor();
  await bankOffice.locator('.figure', { hasText: '爱心池' }).locator('.value', { hasText: /^0\.0$/ }).waitFor();
  await bankOffice.getByLabel('本人（手机号码）').fill('13800000008');
  await bankOffice.getByLabel('亲属（手机号码）').fill('13987654321');
  await bankOffice.getByRole('button', { name: '确认亲属关系' }).click();
  await bankOffice.getByText('已确认：张大爷是赵师傅的亲属。').waitFor();
  await fitsThePhone(bankOffice, 'the time bank page');
  await accessible(bankOffice, 'the time bank page');
  await shot(bankOffice, 'office-3-time-bank');
  const grandpa = await signIn(browser, 'yunhe_resident');
  await grandpa.getByRole('link', { name: '存折' }).click();
  await grandpa.getByRole('heading', { name: '时间银行存折' }).waitFor();
  await grandpa.locator('.figure .value', { hasText: /^1\.0$/ }).waitFor();
  await grandpa.getByText('爱心池赠予').waitFor();
  await grandpa.getByRole('link', { name: '我要点单' }).first().click();
  await grandpa.getByRole('heading', { name: '我要点单' }).waitFor();
  await grandpa.getByRole('radio', { name: '维修' }).check();
  await grandpa.getByLabel('说说具体情况').fill('门锁坏了，想请人帮忙');
  await grandpa.getByLabel(/用时间银行支付/).fill('1');
  await grandpa.getByRole('button', { name: '提交' }).click();
  await grandpa.locator('article.ticket .state').getByText('待受理').waitFor();
  await grandpa.getByText('1 小时（已预留，办结后付给志愿者）').waitFor();
  await grandpa.getByRole('link', { name: '存折' }).click();
  await grandpa.getByRole('heading', { name: '已预留的时间' }).waitFor();
  await grandpa.locator('.figure .value', { hasText: /^0\.0$/ }).waitFor();
  await grandpa.getByText('预留支付').waitFor();
  await fitsThePhone(grandpa, 'the passbook');
  await accessible(grandpa, 'the passbook');
  await shot(grandpa, 'grandpa-1-passbook');

  step('a desktop screen gets the same pages');
  await secretary.setViewportSize({ width: 1280, height: 800 });
  await secretary.getByRole('link', { name: '待办派单' }).click();
  await secretary.getByRole('heading', { name: '待办派单' }).waitFor();
  await shot(secretary, 'secretary-5-desktop-queue');

  step('sign-out forgets the token');
  await resident.getByRole('button', { name: '退出' }).click();
  await resident.getByRole('heading', { name: '登录邻里' }).waitFor();
  assert.equal(await resident.evaluate(() => localStorage.getItem('linli.token')), null);
  await accessible(resident, 'the sign-in page');
  await shot(resident, 'resident-6-signed-out');

  const problems = [resident, secretary, member, supervisor, admin, grandma, office, newcomer, grandpa, bankOffice].flatMap((p) => p.problems);
  assert.deepEqual(problems, [], 'no script errors on any page');
  console.log('console: all steps passed');
} finally {
  await browser.close();
}

/** The first entry of a zip, which Linli stores uncompressed: its name checked, its text. */
function firstStoredEntry(zip, name) {
  assert.equal(zip.readUInt32LE(0), 0x04034b50, 'a zip local file header');
  assert.equal(zip.readUInt16LE(8), 0, 'stored, not compressed');
  const size = zip.readUInt32LE(18);
  const nameLength = zip.readUInt16LE(26);
  const extraLength = zip.readUInt16LE(28);
  assert.equal(zip.toString('utf8', 30, 30 + nameLength), name);
  const start = 30 + nameLength + extraLength;
  return zip.toString('utf8', start, start + size);
}
