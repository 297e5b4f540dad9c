// The public API, and nothing else: bearer token, JSON in and out, problem documents as
// errors, and the caller's event stream read over fetch (EventSource cannot send a token).

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

export async function api(method, path, body, extraHeaders = {}) {
  const headers = { Authorization: `Bearer ${token.get()}`, Accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null);
  }
  keepReplacement(res);
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
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token.get()}`, 'Content-Type': blob.type },
      body: blob,
    });
  } catch {
    throw new ApiError(0, null);
  }
  keepReplacement(res);
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** A session past half its idle time is given a new token in this header: keep it. */
function keepReplacement(res) {
  const replacement = res.headers.get('Linli-Session-Token');
  if (replacement) token.set(replacement);
}

/** Exchanges a one-time sign-in code (as typed, or from a QR code's link) for a session. */
export async function signInWithCode(code) {
  let res;
  try {
    res = await fetch('/api/v1/sessions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ code }),
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  token.set(data.token);
}

/** Asks the office of whoever has this phone number for a new code (answered alike for
 * any number). */
export async function askForCode(phone) {
  let res;
  try {
    res = await fetch('/api/v1/sign-in-requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ phone }),
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
}

/** 我的数据: everything held about the caller with its photos, saved as the zip the server names. */
export async function downloadMyData() {
  let res;
  try {
    res = await fetch('/api/v1/me/export?format=zip', { headers: { Authorization: `Bearer ${token.get()}` } });
  } catch {
    throw new ApiError(0, null);
  }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const name = (res.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/)?.[1] || 'linli-my-data.zip';
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
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token.get()}` } });
  if (!res.ok) throw new ApiError(res.status, null);
  return URL.createObjectURL(await res.blob());
}

/** Every page of a list (`items`, `next`), up to `pages` pages. */
export async function all(path, pages = 5) {
  const items = [];
  let after = null;
  for (let i = 0; i < pages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(path + sep + 'limit=100' + (after ? `&after=${after}` : ''));
    items.push(...page.items);
    if (!page.next) break;
    after = page.next;
  }
  return items;
}

/**
 * Follows `GET /api/v1/me/stream`, calling `onMessage({id, type, data})` for each message
 * and `onLive(bool)` as the connection comes and goes. Reconnects with `Last-Event-ID`, so
 * nothing is missed across a dropped connection. Returns a function that stops it.
 */
export function follow(onMessage, onLive) {
  const stop = new AbortController();
  let lastId = null;
  let backoff = 1000;

  async function once() {
    const headers = { Authorization: `Bearer ${token.get()}`, Accept: 'text/event-stream' };
    if (lastId) headers['Last-Event-ID'] = lastId;
    const res = await fetch('/api/v1/me/stream', { headers, signal: stop.signal });
    if (res.status === 401) throw new ApiError(401, null);
    if (!res.ok || !res.body) throw new ApiError(res.status, null);
    onLive(true);
    backoff = 1000;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
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
  }

  (async () => {
    while (!stop.signal.aborted) {
      try {
        await once();
      } catch (e) {
        if (stop.signal.aborted || (e instanceof ApiError && e.status === 401)) break;
      }
      onLive(false);
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 15000);
    }
  })();
  return () => stop.abort();
}

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
