// What the page says, Chinese first, English on request. Words that belong to a workflow
// (states, actions, clocks, categories) come from the API's labels, not from here.

const STRINGS = {
  'zh-CN': {
    brand: '邻里', skip: '跳到正文', nav: '主导航', signout: '退出', myData: '我的数据', langSwitch: 'English',
    signinTitle: '登录邻里', signinHelp: '请扫描社区发给您的二维码，或输入登录码（8位，字母大小写都可以）：',
    codeLabel: '登录码', tokenInstead: '我有管理员发的口令', codeRefused: '登录码不对，或者已经用过、过期了。请找社区或支部书记要一个新的。',
    codeTooMany: '试的次数太多了，请过几分钟再试。',
    noCode: '没有登录码？请社区发一个', askPhone: '您在社区登记的电话', askButton: '请社区发登录码', askSent: '已转告社区，工作人员会把登录码交给您。',
    asksTitle: '{n} 位居民在等登录码', askedAt: '{when}提出',
    tabPeople: '居民与志愿者', people: '居民与志愿者', peopleHelp: '登记本社区的居民和志愿者，给他们发登录码（可以打印或扫码，24小时内有效，只能用一次）。',
    register: '登记新居民或志愿者', personName: '姓名', personPhone: '电话（可不填）', personRole: '身份', personBuilding: '住在哪栋楼', noBuilding: '（先不填）', registerButton: '登记',
    registered: '已登记：{name}', findByPhone: '按电话查找', issueCode: '发登录码', endSessions: '全部退出登录', disable: '停用', enable: '启用',
    disabledBadge: '已停用', sessionsEnded: '已退出 {n} 处登录', enabled: '已启用', disabled: '已停用，登录已失效', peopleEmpty: '没有找到。',
    codeFor: '{name} 的登录码', codeValid: '{when}前有效，只能用一次', codeHow: '打开邻里网页，输入登录码；或用手机扫二维码。', print: '打印', qrAlt: '登录二维码',
    tokenLabel: '登录口令', signin: '登录', signedOut: '您已退出。', expired: '登录已失效，请重新扫码或打开链接。',
    tabRequests: '我的诉求', tabNew: '我要点单', tabQueue: '待办派单', tabFigures: '支部数据',
    tabOrders: '我的订单', tabPool: '团队抢单', tabHours: '时长积分',
    newTitle: '我要点单', chooseCategory: '需要什么帮助？', describe: '说说具体情况', describeHint: '例如：楼道灯坏了，晚上看不见',
    urgent: '很急，需要尽快处理', place: '地点', placeHome: '您家', submit: '提交', submitted: '已提交，支部会尽快受理。',
    chooseCategoryFirst: '请先选择需要什么帮助。', describeFirst: '请写一下具体情况。',
    myRequests: '我的诉求', noRequests: '还没有诉求。需要帮助时点“我要点单”。',
    queue: '待办派单', queueEmpty: '没有待办的请求。', orders: '我的订单', ordersEmpty: '暂时没有派给您的订单。',
    pool: '团队抢单', poolEmpty: '团队池里暂时没有订单。', hours: '我的时长和积分',
    hoursTotal: '服务时长', pointsTotal: '积分', ledgerEmpty: '还没有记录。',
    figures: '支部数据', last30: '近30天', submittedCount: '收到诉求', closedCount: '已办结', openCount: '办理中',
    onTime: '及时率', satisfaction: '满意率',
    ratesMean: '及时率 = 按时完成的 ÷（已完成的 + 已超时仍未完成的）；满意率 = 居民评 4–5 星的 ÷ 居民的评价（调解员的评价不算）。', ratingAvg: '平均评分', byCategory: '按类别', noData: '暂无数据',
    coming: '{name} 负责', pooled: '{name}（团队抢单）', by: '{when}前', urgentBadge: '急',
    left: '工作时间还剩 {d}', over: '已超时 {d}（工作时间）', late: '超时办结', paused: '已暂停', warning: '即将超时',
    detail: '详情', back: '返回', requester: '居民', phone: '电话', channel: '渠道', created: '提交于',
    phoneWithheld: '号码暂不显示：系统暂时无法记录查阅，稍后再看',
    ch_visit: '上门/窗口', ch_phone: '电话', ch_12345: '12345热线', ch_wechat: '微信', ch_open311: 'Open311',
    ch_console: '网页', ch_api: '接口', proxied: '代办录入',
    description: '情况', clocks: '时限', audit: '办理记录', actions: '可以做的事', noActions: '现在没有需要您做的事。',
    reason: '原因', note: '备注', rating: '评分', stars: '{n} 星', hoursField: '服务时长（小时）',
    assignee: '派给谁', candidates: '推荐的志愿者', teams: '派到团队（抢单）', ineligible: '暂不可派',
    points: '分', confirm: '确认', cancelAction: '取消', chooseAssignee: '请选择一位志愿者或一个团队。',
    fill: '请填写：{what}', done: '已{action}。', newDispatch: '有新的派单！',
    told_decline: '志愿者这次去不了，支部正在重新安排。', told_expire: '志愿者没有及时接单，支部正在重新安排。',
    told_auto_close: '您的诉求已自动办结。如果还有问题，可以再提。', updated: '已更新',
    online: '实时', offline: '未连上，正在重连…', largeText: '大字',
    certTitle: '志愿服务证明', certHelp: '选择时间段，填写证件号码开具证明。证件号码只用于核对，系统只保存后四位。',
    certFrom: '从哪天起', certTo: '到哪天为止', certKind: '证件类型', certNumber: '证件号码', certIssue: '开具证明', certPrint: '打印',
    id_resident_id: '居民身份证', id_hk_macao_pass: '港澳居民来往内地通行证', id_taiwan_pass: '台湾居民来往大陆通行证',
    id_passport: '护照', id_foreign_permanent_id: '外国人永久居留身份证',
    fromBefore: '没有网络：显示的是上次联网时的内容。',
    needsYou: '需要您处理（{n}）', needsYouEmpty: '眼下没有要您处理的。', inHand: '正在办理（{n}）',
    trendTitle: '近8周：每周诉求数和按时办结率', trendBars: '诉求数', trendDots: '按时办结率',
    trendWeek: '{week}那周 {n} 件，按时 {rate}',
    draftRestored: '已恢复您刚才填写的内容。', hoursValue: '{n} 小时',
    errConflictSelf: '这件事您刚刚已经办好了，页面已刷新。',
    errConflict: '这件事刚刚被别人处理了，页面已刷新。', errForbidden: '您没有权限做这件事。',
    errNotFound: '找不到这条请求，可能已经不归您处理。', errInvalid: '填写的内容有误：{detail}',
    errNetwork: '网络连接不上，请稍后再试。', errServer: '系统暂时出了问题，请稍后再试。', errRate: '操作太频繁，请稍后再试。',
    system: '系统', minutes: '{n}分钟', hoursMinutes: '{h}小时{m}分', daysHours: '{d}天{h}小时', seconds: '不到1分钟',
    photo: '照片（可选）', photoAfter: '完成后的照片（可选）', photos: '照片', photoAlt: '{stage}照片 {n}',
    stage_request: '居民提交的', stage_before: '办理前的', stage_after: '办理后的', photoFailed: '照片没有传上去：{why}',
    ev_submitted: '提交诉求', ev_clock_started: '开始计时：{clock}', ev_clock_stopped: '停止计时：{clock}',
    ev_clock_paused: '暂停计时：{clock}', ev_clock_resumed: '恢复计时：{clock}',
    ev_sla_warning: '时限预警：{clock}', ev_sla_breach: '超时：{clock}', ev_escalation: '上报到{level}', ev_objections_escalated: '多次退单，上报到{level}',
    ev_auto_dispatch_stopped: '自动派单已停止，请支部派单', ev_credit_questioned: '志愿时长待支部核实',
    ev_sla_chase: '催办：{clock}', ev_extension_requested: '申请延期：{clock}', ev_clock_extended: '批准延期：{clock}',
    ev_extension_refused: '不予延期：{clock}', ev_follow_up_due: '回访到期', ev_follow_up_done: '已回访',
    extendBy: '需要延长多久（工作时间）', ext_4h: '半天（4小时）', ext_1wd: '1个工作日', ext_2wd: '2个工作日', ext_3wd: '3个工作日', ext_5wd: '5个工作日',
    extensionAsked: '延期申请', extensionPending: '申请延长{d}，待批准：{reason}', wasDue: '原定{when}', newDue: '新的期限：{when}',
    followUp: '回访', followUpDue: '待回访', followUpDone: '已回访（{when}）', followUpsDue: '待回访',
    role_resident: '居民', role_member: '志愿者', role_secretary: '支部书记', role_community: '社区', role_street: '街道', role_admin: '管理员', role_system: '系统', role_supervisor: '居民代表',
    tabOversight: '督单', oversight: '超时未办的诉求', oversightHelp: '本社区超过时限还没办完的诉求（不含居民姓名、电话和住址）。',
    oversightEmpty: '目前没有超时的诉求。', dueWas: '{clock}{when}到期', escalatedTo: '已上报到{level}', asked: '提交于{when}',
    board: '社区晒单（公开）',
    enteredByMe: '我最近代办的诉求', enteredNone: '还没有代办过诉求。',
    noPages: '你的账号在控制台里没有可用的页面，请联系社区管理员。', tabDeliveries: '消息投递', deliveries: '投递失败的消息', deliveriesHelp: '多次重试仍未送达对接系统（Webhook）的通知。对方恢复后，可以重新投递。',
    deliveriesPending: '正在排队投递：{n} 条', deliveriesParked: '投递失败、等待重新投递：{n} 条', deliveriesEmpty: '没有投递失败的消息。', retryDelivery: '重新投递', retryQueued: '已重新排队投递',
    tabEnterFor: '代办录入', enterFor: '为居民代办', residentPhone: '居民电话（完整号码）', findResident: '查找',
    noResident: '本社区没有这个号码的居民。', forResident: '为{name}代办', chooseResident: '请先查找并选择居民。',
    channelField: '居民是怎么找来的', enteredFor: '已为{name}提交，支部会尽快受理。',
    parentField: '并入哪一件', parentEmpty: '没有可以并入的相似诉求。', chooseParent: '请选择要并入的诉求。',
    near_same_building: '同一栋楼', near_same_compound: '同一小区',
    mergedInto: '已并入', mergedHere: '并入此单的诉求', openIt: '查看',
    coHandlers: '协办', coDue: '{when}前反馈', coReported: '已反馈：{note}', coBreached: '反馈超时', coNotReported: '未反馈', coClosed: '已结束',
    ev_merged_into: '并入另一件诉求', ev_unmerged: '撤销并单', ev_duplicate_attached: '有诉求并入此单', ev_duplicate_detached: '并入的诉求已撤出',
    ev_co_handler_added: '添加协办', ev_co_handler_reported: '协办反馈', ev_co_handler_breached: '协办反馈超时', ev_co_handling_closed: '协办结束',
  },
  en: {
    brand: 'Linli', skip: 'Skip to content', nav: 'Main', signout: 'Sign out', myData: 'My data', langSwitch: '中文',
    signinTitle: 'Sign in to Linli', signinHelp: 'Scan the QR code your community gave you, or type your sign-in code (8 characters, any case):',
    codeLabel: 'Sign-in code', tokenInstead: 'I have a token from an administrator', codeRefused: 'That code is wrong, used or expired. Ask your community office or branch secretary for a new one.',
    codeTooMany: 'Too many tries: wait a few minutes and try again.',
    noCode: 'No code? Ask your community for one', askPhone: 'The phone number your community has', askButton: 'Ask for a sign-in code', askSent: 'Your community has been told: someone will bring you a code.',
    asksTitle: '{n} waiting for a sign-in code', askedAt: 'asked {when}',
    tabPeople: 'People', people: 'Residents and volunteers', peopleHelp: 'Register the residents and volunteers of your community and hand them sign-in codes (print or scan; valid 24 hours, once).',
    register: 'Register a resident or volunteer', personName: 'Name', personPhone: 'Phone (optional)', personRole: 'As', personBuilding: 'Home building', noBuilding: '(not now)', registerButton: 'Register',
    registered: 'Registered: {name}', findByPhone: 'Find by phone', issueCode: 'Sign-in code', endSessions: 'Sign out everywhere', disable: 'Disable', enable: 'Enable',
    disabledBadge: 'Disabled', sessionsEnded: 'Signed out of {n} sessions', enabled: 'Enabled', disabled: 'Disabled: their sign-ins have ended', peopleEmpty: 'Nobody found.',
    codeFor: 'Sign-in code for {name}', codeValid: 'Works until {when}, once', codeHow: 'Open Linli and type the code, or scan the QR code with a phone.', print: 'Print', qrAlt: 'Sign-in QR code',
    tokenLabel: 'Sign-in token', signin: 'Sign in', signedOut: 'You have signed out.', expired: 'Your sign-in has expired: scan the code or open the link again.',
    tabRequests: 'My requests', tabNew: 'Ask for help', tabQueue: 'Queue', tabFigures: 'Figures',
    tabOrders: 'My orders', tabPool: 'Team pool', tabHours: 'Hours & points',
    newTitle: 'Ask for help', chooseCategory: 'What do you need?', describe: 'What happened?', describeHint: 'e.g. the stairway light is broken',
    urgent: 'Urgent: please come soon', place: 'Where', placeHome: 'Your home', submit: 'Send', submitted: 'Sent. The branch will take it up soon.',
    chooseCategoryFirst: 'Choose what you need first.', describeFirst: 'Please say what happened.',
    myRequests: 'My requests', noRequests: 'No requests yet. Tap "Ask for help" when you need it.',
    queue: 'Queue', queueEmpty: 'Nothing waiting.', orders: 'My orders', ordersEmpty: 'Nothing dispatched to you yet.',
    pool: 'Team pool', poolEmpty: 'The team pool is empty.', hours: 'My hours and points',
    hoursTotal: 'Hours served', pointsTotal: 'Points', ledgerEmpty: 'Nothing recorded yet.',
    figures: 'Branch figures', last30: 'Last 30 days', submittedCount: 'Requests', closedCount: 'Closed', openCount: 'Open',
    onTime: 'On time', satisfaction: 'Satisfied',
    ratesMean: 'On time = done by the deadline ÷ (done + overdue and still open); satisfied = residents\' 4–5 star ratings ÷ residents\' ratings (a mediator\'s rating does not count).', ratingAvg: 'Average rating', byCategory: 'By category', noData: 'No data yet',
    coming: '{name} is on it', pooled: '{name} (team pool)', by: 'by {when}', urgentBadge: 'Urgent',
    left: '{d} of working time left', over: '{d} of working time overdue', late: 'late', paused: 'Paused', warning: 'Due soon',
    detail: 'Details', back: 'Back', requester: 'Resident', phone: 'Phone', channel: 'Channel', created: 'Sent',
    phoneWithheld: 'number hidden for now: reading it cannot be recorded; try again later',
    ch_visit: 'Visit', ch_phone: 'Phone', ch_12345: '12345 hotline', ch_wechat: 'WeChat', ch_open311: 'Open311',
    ch_console: 'Web', ch_api: 'API', proxied: 'entered for the resident',
    description: 'What happened', clocks: 'Deadlines', audit: 'History', actions: 'What you can do', noActions: 'Nothing for you to do now.',
    reason: 'Reason', note: 'Note', rating: 'Rating', stars: '{n} stars', hoursField: 'Hours served',
    assignee: 'Dispatch to', candidates: 'Suggested volunteers', teams: 'To a team pool', ineligible: 'not available',
    points: 'pts', confirm: 'Confirm', cancelAction: 'Cancel', chooseAssignee: 'Choose a volunteer or a team.',
    fill: 'Please fill in: {what}', done: '{action}: done.', newDispatch: 'New dispatch!',
    told_decline: 'The volunteer cannot come this time; the branch is arranging someone else.',
    told_expire: 'The volunteer did not take it in time; the branch is arranging someone else.',
    told_auto_close: 'Your request was closed by itself. If something is still wrong, ask again.', updated: 'Updated',
    online: 'Live', offline: 'Not connected, reconnecting…', largeText: 'Large text',
    certTitle: 'Certificate of service', certHelp: 'Choose a period and give your ID number. The number is only checked: just its last four characters are kept.',
    certFrom: 'From', certTo: 'To (inclusive)', certKind: 'ID document', certNumber: 'ID number', certIssue: 'Issue the certificate', certPrint: 'Print',
    id_resident_id: 'Resident ID card', id_hk_macao_pass: 'Hong Kong/Macao pass', id_taiwan_pass: 'Taiwan pass',
    id_passport: 'Passport', id_foreign_permanent_id: 'Foreign permanent resident ID',
    fromBefore: 'No network: this is what was shown when last online.',
    needsYou: 'Needs you now ({n})', needsYouEmpty: 'Nothing needs you right now.', inHand: 'In hand ({n})',
    trendTitle: 'The last 8 weeks: requests a week and resolved on time', trendBars: 'requests', trendDots: 'on time',
    trendWeek: 'week of {week}: {n}, on time {rate}',
    draftRestored: 'What you had typed is back.', hoursValue: '{n} h',
    errConflictSelf: 'You have just done this; the page has been refreshed.',
    errConflict: 'Someone else just acted on this request; the page has been refreshed.', errForbidden: 'You may not do that.',
    errNotFound: 'This request cannot be found; it may no longer be yours.', errInvalid: 'Something is not right: {detail}',
    errNetwork: 'Cannot reach the server; please try again soon.', errServer: 'Something went wrong; please try again soon.', errRate: 'Too many requests; please wait a moment.',
    system: 'System', minutes: '{n} min', hoursMinutes: '{h} h {m} min', daysHours: '{d} d {h} h', seconds: 'under a minute',
    photo: 'Photo (optional)', photoAfter: 'Photo of the finished work (optional)', photos: 'Photos', photoAlt: '{stage} photo {n}',
    stage_request: 'Resident\'s', stage_before: 'Before', stage_after: 'After', photoFailed: 'The photo was not sent: {why}',
    ev_submitted: 'Request sent', ev_clock_started: 'Clock started: {clock}', ev_clock_stopped: 'Clock stopped: {clock}',
    ev_clock_paused: 'Clock paused: {clock}', ev_clock_resumed: 'Clock resumed: {clock}',
    ev_sla_warning: 'Warning: {clock}', ev_sla_breach: 'Overdue: {clock}', ev_escalation: 'Escalated to {level}', ev_objections_escalated: 'Returned too often: escalated to {level}',
    ev_auto_dispatch_stopped: 'Automatic dispatch stopped; the branch dispatches', ev_credit_questioned: 'Hours for the branch to check',
    ev_sla_chase: 'Chased: {clock}', ev_extension_requested: 'More time asked for: {clock}', ev_clock_extended: 'More time given: {clock}',
    ev_extension_refused: 'More time refused: {clock}', ev_follow_up_due: 'Follow-up call due', ev_follow_up_done: 'Followed up',
    extendBy: 'How much more time (working time)', ext_4h: 'Half a day (4 hours)', ext_1wd: '1 working day', ext_2wd: '2 working days', ext_3wd: '3 working days', ext_5wd: '5 working days',
    extensionAsked: 'Extension', extensionPending: '{d} more asked for, awaiting a decision: {reason}', wasDue: 'was due {when}', newDue: 'new deadline: {when}',
    followUp: 'Follow-up', followUpDue: 'call due', followUpDone: 'called ({when})', followUpsDue: 'Follow-up calls due',
    role_resident: 'Resident', role_member: 'Volunteer', role_secretary: 'Secretary', role_community: 'Community office', role_street: 'Street office', role_admin: 'Admin', role_system: 'System', role_supervisor: 'Residents\' representative',
    tabOversight: 'Oversight', oversight: 'Overdue requests', oversightHelp: 'Requests of this community past a deadline (no names, phone numbers or addresses).',
    oversightEmpty: 'Nothing is overdue.', dueWas: '{clock} was due {when}', escalatedTo: 'escalated to {level}', asked: 'asked {when}',
    board: 'Community board (public)',
    enteredByMe: 'Requests I entered lately', enteredNone: 'You have not entered a request for anyone yet.',
    noPages: 'Your account has no pages in the console; ask the community\'s administrator.', tabDeliveries: 'Deliveries', deliveries: 'Notifications not delivered', deliveriesHelp: 'Notifications the webhooks did not take after every retry. Once the receiver is back, send them again.',
    deliveriesPending: 'Waiting to be delivered: {n}', deliveriesParked: 'Failed, waiting to be sent again: {n}', deliveriesEmpty: 'Every notification was delivered.', retryDelivery: 'Send again', retryQueued: 'Queued for delivery again',
    tabEnterFor: 'Enter for a resident', enterFor: 'Enter a request for a resident', residentPhone: 'The resident\'s phone (the whole number)', findResident: 'Find',
    noResident: 'No resident of this community has this number.', forResident: 'For {name}', chooseResident: 'Find and choose the resident first.',
    channelField: 'How the resident reached you', enteredFor: 'Entered for {name}: the branch will take it up.',
    parentField: 'Merge into', parentEmpty: 'No similar request to merge into.', chooseParent: 'Choose the request to merge into.',
    near_same_building: 'same building', near_same_compound: 'same compound',
    mergedInto: 'Merged into', mergedHere: 'Merged into this one', openIt: 'open',
    coHandlers: 'Co-handlers', coDue: 'report by {when}', coReported: 'reported: {note}', coBreached: 'report overdue', coNotReported: 'not reported', coClosed: 'closed',
    ev_merged_into: 'Merged into another request', ev_unmerged: 'Merge undone', ev_duplicate_attached: 'A request was merged into this one', ev_duplicate_detached: 'A merged request was taken out',
    ev_co_handler_added: 'Co-handler added', ev_co_handler_reported: 'Co-handler reported', ev_co_handler_breached: 'Co-handler report overdue', ev_co_handling_closed: 'Co-handling closed',
  },
};

let lang = localStorage.getItem('linli.lang') === 'en' ? 'en' : 'zh-CN';

export const getLang = () => lang;

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh-CN';
  localStorage.setItem('linli.lang', lang);
  document.documentElement.lang = lang;
}

/** A string of the page's own, with `{name}` filled in. */
export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS['zh-CN'][key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');
}

/** An API label (`{"zh-CN": …, "en": …}`) in the page's language. */
export const label = (l) => (l ? (lang === 'en' ? l.en : l['zh-CN']) : '');

/** A span of seconds in words: 2小时15分, 3 d 4 h. */
export function duration(secs) {
  const s = Math.abs(Math.round(secs));
  if (s < 60) return t('seconds');
  const m = Math.floor(s / 60);
  if (m < 60) return t('minutes', { n: m });
  const h = Math.floor(m / 60);
  if (h < 48) return t('hoursMinutes', { h, m: m % 60 });
  return t('daysHours', { d: Math.floor(h / 24), h: h % 24 });
}

/** An instant as a local date and time: 11月23日 14:30. */
export function when(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang, {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false,
  }).format(new Date(iso));
}
