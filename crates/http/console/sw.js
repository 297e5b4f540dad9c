// The console on a phone's home screen: the page and its files, and the lists last read,
// kept for when the network is gone. Network first, always: what is shown online is what the
// server says now; offline, the last answer, marked so the page says it is from before.
// Nothing is ever queued: a change made offline fails, and the page says so.

const SHELL = 'linli-shell';
const LISTS = 'linli-lists';
const FILES = ['/', '/console/app.css', '/console/app.js', '/console/api.js', '/console/i18n.js',
  '/console/ui.js', '/console/ticket.js', '/console/views.js', '/console/volunteers.js', '/console/icon.svg'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

/** The reads a page needs to show its lists and requests: who is signed in, the catalog, the
 * lists, a request and its history. Nothing else is kept (not the data export, photos,
 * figures, people or the event stream). */
const LIST_READS = /^\/api\/v1\/(me|categories|workflows|teams|tickets(\/[0-9a-f-]{36}(\/events)?)?)$/;

/** Reads kept for offline: the page's files, and `LIST_READS`; only ever a GET. */
function kept(url, request) {
  if (request.method !== 'GET' || url.origin !== self.location.origin) return null;
  if (url.pathname === '/' || url.pathname.startsWith('/console/')) return SHELL;
  if (LIST_READS.test(url.pathname)) return LISTS;
  return null;
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const cache = kept(url, event.request);
  if (!cache) return;
  event.respondWith((async () => {
    try {
      const answer = await fetch(event.request);
      if (answer.ok) {
        const copy = answer.clone();
        caches.open(cache).then((c) => c.put(url.pathname + url.search, copy));
      }
      return answer;
    } catch (err) {
      const last = await caches.open(cache).then((c) => c.match(url.pathname + url.search));
      if (!last) throw err;
      const headers = new Headers(last.headers);
      headers.set('Linli-Offline', '1');
      return new Response(last.body, { status: last.status, headers });
    }
  })());
});

// Signing out forgets the lists: the next person on this phone sees none of them.
self.addEventListener('message', (event) => {
  if (event.data === 'forget') event.waitUntil(caches.delete(LISTS));
});
