// src/live.js against a fake server: the socket protocol of docs/api.md ("WebSocket: GET
// /api/v1/ws"), reconnects, the polling fallback and posts. No browser: WebSocket, fetch and
// location are fakes installed on globalThis.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';

// ---- fakes ----

class FakeSocket {
  static OPEN = 1;
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    if (server.refuseSockets) setTimeout(() => this.drop(1006), 1);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code = 1000) { this.drop(code); }
  // Server side:
  open() { this.readyState = 1; this.onopen && this.onopen(); }
  push(frame) { this.onmessage && this.onmessage({ data: JSON.stringify(frame) }); }
  drop(code) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose && this.onclose({ code });
  }
}

// The REST side: events, and whether the session still holds.
const server = { events: [], signedIn: true, refuseSockets: false, down: false, requests: [] };

function event(cursor) {
  return { cursor, type: 'message.created', room_id: 1, at: '2026-11-23T00:00:00Z', data: { n: cursor } };
}
function frame(cursor) {
  const e = event(cursor);
  return { type: 'event', cursor, event: e.type, room_id: e.room_id, at: e.at, data: e.data };
}

function respond(status, body) {
  return { status, ok: status < 300, statusText: '', headers: { get: () => null }, json: async () => body };
}

async function fakeFetch(path) {
  server.requests.push(path);
  await new Promise((r) => setTimeout(r, 1));
  if (server.down) throw new TypeError('fetch failed');
  if (path === '/api/v1/me') return server.signedIn ? respond(200, { user: { id: 1 }, csrf_token: 't' }) : respond(401, {});
  if (!server.signedIn) return respond(401, {});
  const m = path.match(/^\/api\/v1\/events\?after=(\d+)&limit=(\d+)$/);
  if (m) {
    const after = Number(m[1]);
    const limit = Number(m[2]);
    const latest = server.events.length ? server.events[server.events.length - 1] : 0;
    return respond(200, { events: server.events.filter((c) => c > after).slice(0, limit).map(event), latest });
  }
  return respond(404, {});
}

globalThis.WebSocket = FakeSocket;
globalThis.location = { protocol: 'https:', host: 'outpost.test' };
globalThis.fetch = fakeFetch;

const { startLive, timing } = await import('../src/live.js');
const { setUnauthorizedHandler } = await import('../src/api.js');
Object.assign(timing, { poll: 10, backoffMin: 4, backoffMax: 16, probe: 40, postTimeout: 200, batch: 1 });

async function until(cond, what, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

let stop;
let got; // cursors delivered, in order
let status;
let modes;
let reloads;
function start() {
  got = [];
  status = [];
  modes = [];
  reloads = 0;
  stop = startLive({
    onEvents: (evs) => got.push(...evs.map((e) => e.cursor)),
    onStatus: (ok) => status.push(ok),
    onMode: (m) => modes.push(m),
    onReload: () => { reloads++; },
  });
}
const socket = (i) => FakeSocket.all[i];
const lastSocket = () => FakeSocket.all[FakeSocket.all.length - 1];

beforeEach(() => {
  FakeSocket.all = [];
  Object.assign(server, { events: [1, 2, 3, 4, 5], signedIn: true, refuseSockets: false, down: false, requests: [] });
  setUnauthorizedHandler(null);
});
afterEach(() => stop && stop());

// ---- tests ----

test('starts from the latest cursor, resumes from it, and turns frames into events', async () => {
  start();
  await until(() => socket(0), 'a socket');
  assert.equal(socket(0).url, 'wss://outpost.test/api/v1/ws');
  socket(0).open();
  assert.deepEqual(socket(0).sent, [{ type: 'resume', cursor: 5 }]);
  socket(0).push({ type: 'resumed', latest: 5 });
  socket(0).push(frame(6));
  await until(() => got.length === 1, 'event 6');
  assert.deepEqual(got, [6]);
  assert.equal(status.at(-1), true);
  assert.equal(stop.live(), true);
});

test('a replay and the frames pushed during it arrive in cursor order, each once', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push(frame(8)); // live, before the replay
  for (const c of [6, 7, 8]) socket(0).push(frame(c));
  socket(0).push({ type: 'resumed', latest: 8 });
  socket(0).push(frame(9));
  await until(() => got.length === 4, 'four events');
  assert.deepEqual(got, [6, 7, 8, 9]);
});

test('a dropped socket reconnects, resumes from the last cursor and skips repeats', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  socket(0).push(frame(6));
  socket(0).push(frame(7));
  await until(() => got.length === 2, 'two events');
  socket(0).drop(1006);
  assert.equal(status.at(-1), false);
  await until(() => socket(1), 'a second socket');
  socket(1).open();
  assert.deepEqual(socket(1).sent[0], { type: 'resume', cursor: 7 });
  for (const c of [7, 8]) socket(1).push(frame(c));
  socket(1).push({ type: 'resumed', latest: 8 });
  await until(() => got.length === 3, 'three events');
  assert.deepEqual(got, [6, 7, 8]);
  assert.equal(status.at(-1), true);
});

test('overflow then close 4000: resumes from the cursor the server names', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  for (const c of [6, 7, 8, 9]) socket(0).push(frame(c));
  await until(() => got.length === 4, 'four events');
  socket(0).push({ type: 'overflow', resume: '7' });
  socket(0).drop(4000);
  await until(() => socket(1), 'a second socket');
  socket(1).open();
  assert.deepEqual(socket(1).sent[0], { type: 'resume', cursor: 7 });
  for (const c of [8, 9, 10]) socket(1).push(frame(c));
  socket(1).push({ type: 'resumed', latest: 10 });
  await until(() => got.length === 5, 'five events');
  assert.deepEqual(got, [6, 7, 8, 9, 10]);
});

test('a reload frame catches up by paging GET /events, then takes the live frames', async () => {
  start();
  await until(() => socket(0), 'a socket');
  server.events = Array.from({ length: 1205 }, (_, i) => i + 1); // 1,200 after the start cursor
  socket(0).open();
  socket(0).push({ type: 'reload', reason: 'too far behind' });
  socket(0).push(frame(1206)); // pushed while the pages load
  server.events.push(1206);
  await until(() => got.length === 1201, 'every event', 5000);
  assert.deepEqual(got, Array.from({ length: 1201 }, (_, i) => i + 6));
  assert.equal(server.requests.filter((p) => p.startsWith('/api/v1/events?after=') && !p.includes('limit=1')).length, 3);
  assert.equal(reloads, 0);
});

test('sockets refused while requests work: polls instead, then returns to the socket', async () => {
  server.refuseSockets = true;
  start();
  await until(() => modes.includes('polling'), 'polling mode');
  server.events.push(6, 7);
  await until(() => got.length === 2, 'polled events');
  assert.deepEqual(got, [6, 7]);
  assert.equal(status.at(-1), true);
  // The socket works again (another proxy, a fixed one): the next probe switches back.
  server.refuseSockets = false;
  const before = FakeSocket.all.length;
  await until(() => FakeSocket.all.length > before, 'a probe socket');
  lastSocket().open();
  assert.deepEqual(lastSocket().sent[0], { type: 'resume', cursor: 7 });
  lastSocket().push(frame(7)); // also fetched by a poll: not delivered again
  lastSocket().push(frame(8));
  lastSocket().push({ type: 'resumed', latest: 8 });
  await until(() => modes.at(-1) === 'socket' && got.length === 3, 'socket mode');
  assert.deepEqual(got, [6, 7, 8]);
});

test('a server that is down is retried with the socket, never mistaken for a proxy', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  server.down = true;
  server.refuseSockets = true;
  socket(0).drop(1006);
  await until(() => FakeSocket.all.length >= 6, 'several attempts');
  assert.deepEqual(modes, []);
  assert.equal(status.at(-1), false);
  server.down = false;
  server.refuseSockets = false;
  const before = FakeSocket.all.length;
  await until(() => FakeSocket.all.length > before, 'another attempt');
  lastSocket().open();
  lastSocket().push({ type: 'resumed', latest: 5 });
  await until(() => status.at(-1) === true, 'back online');
  assert.deepEqual(modes, []);
});

test('close 1008 with /me answering 401 means signed out: no reconnect', async () => {
  let signedOut = 0;
  setUnauthorizedHandler(() => { signedOut++; });
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  server.signedIn = false;
  socket(0).drop(1008);
  await until(() => signedOut === 1, 'the signed-out handler');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(FakeSocket.all.length, 1);
});

test('close 1008 while still signed in (rate limit): reconnects', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  socket(0).drop(1008);
  await until(() => socket(1), 'a second socket');
  assert.ok(server.requests.includes('/api/v1/me'));
});

test('posts: ack resolves, error rejects with the status, a close rejects with status 0', async () => {
  start();
  await until(() => socket(0), 'a socket');
  await assert.rejects(stop.post({ client_id: 'c0', room_id: 1, body: 'x' }), (e) => e.status === 0);
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  const ok = stop.post({ client_id: 'c1', room_id: 1, body: 'hello', thread_root_id: 9 });
  assert.deepEqual(socket(0).sent.at(-1), { type: 'post', client_id: 'c1', room_id: 1, body: 'hello', thread_root_id: 9 });
  socket(0).push({ type: 'ack', client_id: 'c1', message_id: 42, duplicate: false });
  assert.deepEqual(await ok, { message_id: 42, duplicate: false, not_in_room: [] });
  const refused = stop.post({ client_id: 'c2', room_id: 1, body: 'no' });
  socket(0).push({ type: 'error', client_id: 'c2', status: 403, error: 'permission_denied', message: 'read-only' });
  await assert.rejects(refused, (e) => e.status === 403 && e.message === 'read-only');
  const cut = stop.post({ client_id: 'c3', room_id: 1, body: 'cut' });
  socket(0).drop(1006);
  await assert.rejects(cut, (e) => e.status === 0);
});

test('posts: no answer in time, or an error naming no post, means "use REST"', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  await assert.rejects(stop.post({ client_id: 'slow', room_id: 1, body: 'x' }), (e) => e.status === 0 && e.code === 'timeout');
  const old = stop.post({ client_id: 'old', room_id: 1, body: 'x' });
  socket(0).push({ type: 'error', message: 'unknown frame type' });
  await assert.rejects(old, (e) => e.status === 0);
});

test('presence is sent when it changes and again on every reconnect; typing at most every 3 s', async () => {
  start();
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  stop.presence('away');
  stop.presence('away');
  stop.typing(3);
  stop.typing(3);
  stop.typing(4);
  assert.deepEqual(socket(0).sent.slice(1), [
    { type: 'presence', status: 'away' }, { type: 'typing', room_id: 3 }, { type: 'typing', room_id: 4 }]);
  socket(0).drop(1001);
  await until(() => socket(1), 'a second socket');
  socket(1).open();
  assert.deepEqual(socket(1).sent, [{ type: 'resume', cursor: 5 }, { type: 'presence', status: 'away' }]);
});

test('activity is reported at most once per activeEvery, and only while live', async () => {
  const every = timing.activeEvery;
  timing.activeEvery = 30;
  try {
    start();
    stop.active(); // no socket yet: nothing to send it on
    await until(() => socket(0), 'a socket');
    socket(0).open();
    socket(0).push({ type: 'resumed', latest: 5 });
    stop.active();
    stop.active();
    assert.deepEqual(socket(0).sent.slice(1), [{ type: 'active' }]);
    await new Promise((r) => setTimeout(r, 40));
    stop.active();
    assert.deepEqual(socket(0).sent.slice(1), [{ type: 'active' }, { type: 'active' }]);
  } finally {
    timing.activeEvery = every;
  }
});

test('typing and presence frames go to onFrame', async () => {
  const frames = [];
  stop = startLive({ onEvents: () => {}, onFrame: (f) => frames.push(f) });
  await until(() => socket(0), 'a socket');
  socket(0).open();
  socket(0).push({ type: 'resumed', latest: 5 });
  socket(0).push({ type: 'typing', room_id: 1, user_id: 2, username: 'bob' });
  socket(0).push({ type: 'presence', user_id: 2, status: 'away' });
  assert.deepEqual(frames.map((f) => f.type), ['typing', 'presence']);
});
