// The public API, and nothing else: bearer token, JSON in and out, problem documents as
// errors, and the caller's event stream read over fetch (EventSource cannot send a token),
// one per browser, shared by its tabs.

const TOKEN_KEY = 'linli.token';

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set: (value) => localStorage.setItem(TOKEN_KEY, value),
  clear: () => localStorage.removeItem(TOKEN_KEY),
};

/** An answer other than 2xx: the status and the RFC 9457 problem document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || (status === 0 ? 'network' : 'http_' + status);
    this.detail = problem?.detail || '';
  }
}

/**
 * What the page is told of, whatever call met it: the session refused (`expired`, any 401:
 * the page signs out at once, wherever it was), the network lost or back (`network`), and a
 * read answered offline from the copy kept on the phone (`fromBefore`).
 */
const listeners = { expired: () => {}, network: () => {}, fromBefore: () => {} };
export function on(event, listener) {
  listeners[event] = listener;
}

/** `fetch` with the token, the session's replacement kept, and what it met told. */
async function send(path, init = {}, { auth = true } = {}) {
  const headers = { ...(init.headers || {}) };
  if (auth) headers.Authorization = `Bearer ${token.get()}`;
  let res;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    listeners.network(false);
    recheckStream();
    throw new ApiError(0, null);
  }
  // Offline, the service worker answers a read with the last copy it kept (sw.js).
  if (res.headers.get('Linli-Offline')) {
    listeners.fromBefore();
    recheckStream();
  } else {
    listeners.network(true);
  }
  const replacement = res.headers.get('Linli-Session-Token');
  if (replacement) token.set(replacement);
  if (res.status === 401 && auth) listeners.expired();
  return res;
}

async function problem(res) {
  return new ApiError(res.status, await res.json().catch(() => null));
}

export async function api(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body, headers);

/** Sends an image's bytes (`Content-Type` from the blob). */
export async function upload(path, blob) {
  const res = await send(path, { method: 'POST', headers: { 'Content-Type': blob.type }, body: blob });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** A call to the public API (no token: a newcomer's report-in form). */
export async function publicApi(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, { auth: false });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Exchanges a one-time sign-in code (as typed, or from a QR code's link) for a session. */
export async function signInWithCode(code) {
  const res = await send('/api/v1/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ code }),
  }, { auth: false });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  token.set(data.token);
}

/** Asks the office of whoever has this phone number for a new code (answered alike for
 * any number). */
export async function askForCode(phone) {
  const res = await send('/api/v1/sign-in-requests', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ phone }),
  }, { auth: false });
  if (!res.ok) throw await problem(res);
}

/** 我的数据: everything held about the caller with its photos, saved as the zip the server names. */
export const downloadMyData = () => download('/api/v1/me/export?format=zip', 'linli-my-data.zip');

/** A file the API serves (it needs the token), saved under the name the server gives it. */
export async function download(path, fallback) {
  const res = await send(path);
  if (!res.ok) throw await problem(res);
  const name = (res.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/)?.[1] || fallback;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await res.blob());
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

/** Ends this session on the server (its token stops working), then forgets the token. */
export async function endSession() {
  if (token.get()) await api('DELETE', '/api/v1/sessions/current').catch(() => {});
  token.clear();
}

/** An image the API serves, as a `blob:` address an `<img>` can show (it needs the token). */
export async function imageUrl(path) {
  const res = await send(path);
  if (!res.ok) throw new ApiError(res.status, null);
  return URL.createObjectURL(await res.blob());
}

/** Every page of a list (`items`, `next`), up to `pages` pages. */
export async function all(path, pages = 5) {
  const items = [];
  let after = null;
  for (let i = 0; i < pages; i++) {
    const page = await get(after ? `${path}${path.includes('?') ? '&' : '?'}after=${after}` : path);
    items.push(...page.items);
    if (!page.next) break;
    after = page.next;
  }
  return items;
}

/** A call met no network: the stream this tab holds, if any, reconnects to find out whether
 * it still flows (the live mark follows what it finds, never a guess). */
let recheckStream = () => {};

/** No byte for this long (the server says something every 10 s): the stream is not flowing. */
const STALE_MS = 25000;

/**
 * Follows `GET /api/v1/me/stream`, calling `onMessage({id, type, data})` for each message
 * and `onLive(bool)` as the stream flows or stops. One tab of the browser holds the
 * connection (a Web Lock elects it; the next takes over when it closes) and passes what it
 * hears to the others over a `BroadcastChannel`: a browser allows six connections to a
 * server, and a secretary opens requests in many tabs. Reconnects with `Last-Event-ID`, so
 * nothing is missed across a dropped connection; at once when the network is back. Returns
 * a function that stops it.
 */
export function follow(onMessage, onLive) {
  const stop = new AbortController();
  const shared = 'BroadcastChannel' in window && navigator.locks
    ? new BroadcastChannel('linli-stream')
    : null;
  let leading = false;
  let live = null;
  const setLive = (up) => {
    live = up;
    onLive(up);
  };
  if (shared) {
    shared.onmessage = ({ data }) => {
      if (data.kind === 'message') onMessage(data.message);
      else if (data.kind === 'live') setLive(data.up);
      else if (data.kind === 'hello' && leading && live !== null) shared.postMessage({ kind: 'live', up: live });
    };
  }
  const lead = () => stream(
    (message) => {
      onMessage(message);
      shared?.postMessage({ kind: 'message', message });
    },
    (up) => {
      setLive(up);
      shared?.postMessage({ kind: 'live', up });
    },
    stop.signal,
  );
  if (shared) {
    navigator.locks.request('linli-stream', { signal: stop.signal }, () => {
      leading = true;
      return lead();
    }).catch(() => {});
    shared.postMessage({ kind: 'hello' });
  } else {
    lead();
  }
  return () => {
    stop.abort();
    shared?.close();
  };
}

/** The stream itself, until `stop` aborts or the session is refused. */
async function stream(onMessage, onLive, stop) {
  let lastId = null;
  let backoff = 1000;

  async function once() {
    // Ended by `stop`, by the network going, or by silence past `STALE_MS`.
    const conn = new AbortController();
    const cancel = () => conn.abort();
    let watchdog;
    const alive = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(cancel, STALE_MS);
    };
    stop.addEventListener('abort', cancel);
    window.addEventListener('offline', cancel);
    recheckStream = cancel;
    try {
      alive();
      const headers = { Accept: 'text/event-stream' };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const res = await send('/api/v1/me/stream', { headers, signal: conn.signal });
      if (!res.ok || !res.body) throw new ApiError(res.status, null);
      onLive(true);
      backoff = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        alive();
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message = parseBlock(block);
          if (message) {
            lastId = message.id || lastId;
            onMessage(message);
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
      stop.removeEventListener('abort', cancel);
      window.removeEventListener('offline', cancel);
      recheckStream = () => {};
    }
  }

  while (!stop.aborted) {
    const backBefore = networkBack;
    try {
      await once();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) break;
    }
    if (stop.aborted) break;
    onLive(false);
    // The network came back while this attempt was failing: again at once, from the start.
    if (networkBack !== backBefore) {
      backoff = 1000;
      continue;
    }
    // Back online while waiting: at once, not after the back-off.
    const waited = await new Promise((resolve) => {
      const again = (event) => {
        clearTimeout(timer);
        window.removeEventListener('online', again);
        stop.removeEventListener('abort', again);
        resolve(event?.type);
      };
      const timer = setTimeout(again, navigator.onLine === false ? 60000 : backoff);
      window.addEventListener('online', again);
      stop.addEventListener('abort', again);
    });
    backoff = waited === 'online' ? 1000 : Math.min(backoff * 2, 15000);
  }
}

/** How many times the network has come back since the page loaded. */
let networkBack = 0;
window.addEventListener('online', () => { networkBack += 1; });

/** One server-sent event block (`id:`, `event:`, `data:` lines; `:` lines are keep-alives). */
function parseBlock(block) {
  let id = null;
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return null;
  try {
    return { id, type, data: JSON.parse(data.join('\n')) };
  } catch {
    return null;
  }
}
