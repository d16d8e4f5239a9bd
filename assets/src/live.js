// Live updates over the WebSocket (GET /api/v1/ws), with polling of GET /api/v1/events as the
// fallback for networks whose proxies refuse the upgrade. Either way the rest of the client gets
// the same event objects, {cursor, type, room_id, at, data}, oldest first, each exactly once:
// every event passes one cursor check, so a replay after a reconnect never repeats one and a
// reconnect never skips one (the server replays everything after the cursor we resume from).
//
// The socket also carries what the page sends: posts (answered by ack or error frames), typing
// notices and the page's presence (away when hidden or idle).
import { api, signalSignedOut } from './api.js';

const LIMIT = 500;
// After this many sockets in a row that fail, see whether plain requests work; when they do twice
// (so not merely a server that has just come back), a proxy blocks upgrades: poll instead.
const SOCKET_FAILURES_BEFORE_CHECK = 3;
const REFUSALS_BEFORE_POLLING = 2;
// Catching up after a reload frame: at most this many pages of events, then a full reload.
const MAX_CATCHUP_PAGES = 20;

/** Delays in milliseconds; tests (assets/test/live.test.mjs) shorten them. */
export const timing = {
  poll: 2000, // the polling fallback's interval
  backoffMin: 500, // reconnect delays double from here...
  backoffMax: 15000, // ...up to here, with jitter
  probe: 60000, // while polling, try the socket again this often
  // A post with no answer in this time counts as not sent (the REST retry uses the same
  // client_id, so the server never stores it twice).
  postTimeout: 10000,
  typingEvery: 3000, // the server passes on one typing notice per 3 s anyway
  activeEvery: 60000, // the server records a session's activity once a minute at most
  batch: 15, // socket frames are handed over in batches this far apart
};

/** A post the socket could not deliver: `status` 0 means "try the REST route". */
export class LiveError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Starts delivering events.
 *   onEvents(events)  each batch, oldest first, every cursor once
 *   onStatus(ok)      whether the server is reachable
 *   onFrame(frame)    the socket's typing and presence frames, as the server sent them
 *   onReload()        the client missed too much to catch up by events: fetch state again
 *   onMode(mode)      'socket' or 'polling', when it changes
 * Returns a function that stops it; the function also carries post(), typing(), presence(),
 * mode() and live() (see below). Not for use after it is stopped.
 */
export function startLive({ onEvents, onStatus = () => {}, onFrame = () => {}, onReload = () => {}, onMode = () => {} }) {
  let cursor = null; // every event at or below it has been delivered
  let resumeAt = null; // where the next socket resumes, when the server asked for earlier
  let stopped = false;
  let ws = null;
  let live = false; // the socket has answered our resume: events flow in order
  let buffer = []; // event frames received before `live`
  let failures = 0; // sockets in a row that never reached `live`
  let refused = 0; // of those, how many failed while plain requests worked
  let mode = 'socket';
  let reconnectTimer = 0;
  let pollTimer = 0;
  let probeTimer = 0;
  let flushTimer = 0;
  let queued = [];
  let presence = 'online';
  const pending = new Map(); // client_id -> {resolve, reject, timer}
  const lastTyping = new Map(); // room_id -> ms
  let lastActive = 0;

  // Every post waiting for an answer gets status 0: the caller retries it through REST.
  function failPending(code, message) {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new LiveError(0, code, message));
    }
    pending.clear();
  }

  function setMode(m) {
    if (mode !== m) { mode = m; onMode(m); }
  }

  // Every event passes here: anything at or below the cursor has been delivered already.
  function accept(events) {
    for (const ev of events) {
      if (cursor !== null && ev.cursor <= cursor) continue;
      cursor = ev.cursor;
      queued.push(ev);
    }
    // Socket frames arrive one per task: hand them over in batches so that a replay renders once.
    if (queued.length && !flushTimer) flushTimer = setTimeout(flush, timing.batch);
  }
  function flush() {
    flushTimer = 0;
    const batch = queued;
    queued = [];
    if (batch.length && !stopped) onEvents(batch);
  }

  function fromFrame(f) {
    return { cursor: f.cursor, type: f.event, room_id: f.room_id, at: f.at, data: f.data || {} };
  }

  // Fetches every event after the cursor through GET /events. Returns false when there were
  // too many and the caller was told to reload instead.
  async function catchUp() {
    for (let page = 0; ; page++) {
      const res = await api.get(`/events?after=${cursor}&limit=${LIMIT}`);
      if (stopped) return true;
      const events = res.events || [];
      accept(events);
      if (events.length < LIMIT) return true;
      if (page + 1 >= MAX_CATCHUP_PAGES) {
        cursor = Math.max(cursor, res.latest || 0);
        flush();
        onReload();
        return false;
      }
    }
  }

  async function startCursor() {
    // Start from now: history comes from the REST calls.
    const first = await api.get('/events?after=0&limit=1');
    if (cursor === null) cursor = first.latest || 0;
  }

  // ---- the socket ----

  function backoff() {
    const cap = Math.min(timing.backoffMax, timing.backoffMin * 2 ** Math.min(failures, 10));
    return cap / 2 + Math.random() * cap / 2; // jitter: a restarted server is not hit by everyone at once
  }

  function scheduleReconnect(ms) {
    if (stopped || reconnectTimer) return;
    reconnectTimer = setTimeout(() => { reconnectTimer = 0; connect(); }, ms);
  }

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try { ws.send(JSON.stringify(frame)); return true; } catch { return false; }
  }

  async function connect() {
    if (stopped) return;
    if (cursor === null) {
      try { await startCursor(); } catch (err) {
        if (err.status === 401) return; // the app shows the sign-in page
        onStatus(false);
        failures++;
        scheduleReconnect(backoff());
        return;
      }
      if (stopped) return;
    }
    let socket;
    try {
      socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/ws`);
    } catch {
      socketFailed(null, 1006);
      return;
    }
    ws = socket;
    live = false;
    buffer = [];
    let resumeFrom = null; // set by an overflow frame
    let catchingUp = false; // this socket's reload: its frames wait until the pages are in
    socket.onopen = () => {
      if (ws !== socket) return;
      send({ type: 'resume', cursor: resumeAt ?? cursor });
      if (presence !== 'online') send({ type: 'presence', status: presence });
    };
    socket.onmessage = (e) => {
      if (ws !== socket) return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (!f || typeof f !== 'object') return;
      switch (f.type) {
        case 'event':
          if (live && !catchingUp) accept([fromFrame(f)]);
          else buffer.push(fromFrame(f));
          break;
        case 'resumed':
          // The replay and whatever was pushed meanwhile, in cursor order, each once.
          goLive();
          break;
        case 'reload':
          // Too far behind for a replay: page through GET /events (the socket keeps pushing;
          // those frames wait in the buffer), or reload everything when even that is too much.
          catchingUp = true;
          catchUp().then(() => {
            catchingUp = false;
            if (ws === socket) goLive(); // else this socket closed meanwhile: the next resumes
          }, (err) => {
            catchingUp = false;
            if (err.status !== 401 && ws === socket) socket.close(4001, 'catch-up failed');
          });
          break;
        case 'overflow': {
          const n = Number(f.resume);
          if (Number.isFinite(n)) resumeFrom = n;
          break;
        }
        case 'ack':
        case 'error': {
          if (f.type === 'error' && f.client_id == null) {
            // An error that names no post (a server too old for "post" frames says "unknown
            // frame type"): let every waiting post go through REST instead. Harmless if the
            // socket did take one: the same client_id makes the REST answer a duplicate.
            failPending('not_sent', f.message || 'refused');
            break;
          }
          const p = f.client_id != null && pending.get(f.client_id);
          if (!p) break;
          pending.delete(f.client_id);
          clearTimeout(p.timer);
          if (f.type === 'ack') {
            p.resolve({ message_id: f.message_id, duplicate: !!f.duplicate, not_in_room: f.not_in_room || [] });
          } else {
            p.reject(new LiveError(f.status || 400, f.error || 'error', f.message || 'The message was refused.'));
          }
          break;
        }
        default: // typing, presence
          onFrame(f);
      }
    };
    socket.onclose = (e) => {
      if (ws !== socket) return;
      ws = null;
      // Posts in flight get no answer now; the REST retry (same client_id) settles them.
      failPending('not_sent', 'The connection closed.');
      if (stopped) return;
      // The server stopped feeding a slow client: resume from where it says (never later than
      // what we have, so nothing is skipped; the cursor check drops what we already have).
      if (resumeFrom !== null && cursor !== null) resumeAt = Math.min(cursor, resumeFrom);
      if (live) {
        // A working socket dropped (server restart, network): reconnect soon.
        live = false;
        failures = 0;
        onStatus(false);
        if (e.code === 1008) { checkSignedOut(); return; }
        scheduleReconnect(e.code === 4000 ? 100 : backoff());
        return;
      }
      socketFailed(socket, e.code);
    };
  }

  function goLive() {
    const events = buffer.sort((a, b) => a.cursor - b.cursor);
    buffer = [];
    live = true;
    failures = 0;
    refused = 0;
    resumeAt = null;
    accept(events);
    flush();
    if (probeTimer) { clearTimeout(probeTimer); probeTimer = 0; }
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = 0; }
    setMode('socket');
    onStatus(true);
  }

  // 1008: rate limited, or the credentials ended. /me tells which.
  async function checkSignedOut() {
    try {
      await api.me();
      scheduleReconnect(backoff());
    } catch (err) {
      if (err.status === 401) { signalSignedOut(); return; }
      scheduleReconnect(backoff());
    }
  }

  // A socket that never got going. After a few in a row, see whether plain requests work: if
  // they do, something between us and the server refuses WebSockets, so poll instead.
  async function socketFailed(socket, code) {
    failures++;
    if (code === 1008) { checkSignedOut(); return; }
    if (mode === 'polling') { probeLater(); return; }
    onStatus(false);
    if (failures >= SOCKET_FAILURES_BEFORE_CHECK) {
      try {
        await api.get('/events?after=0&limit=1');
        if (stopped) return;
        if (++refused >= REFUSALS_BEFORE_POLLING) {
          setMode('polling');
          poll();
          return;
        }
        scheduleReconnect(timing.backoffMin); // the server answers: try the socket once more now
        return;
      } catch (err) {
        if (err.status === 401) return;
        // The server is down: keep trying the socket, slowly.
      }
    }
    scheduleReconnect(backoff());
  }

  function probeLater() {
    if (stopped || probeTimer) return;
    probeTimer = setTimeout(() => { probeTimer = 0; if (mode === 'polling') connect(); }, timing.probe);
  }

  // ---- polling ----

  async function poll() {
    pollTimer = 0;
    if (stopped || mode !== 'polling') return;
    try {
      if (cursor === null) await startCursor();
      else await catchUp();
      onStatus(true);
    } catch (err) {
      if (err.status === 401) return;
      onStatus(false);
    }
    if (!stopped && mode === 'polling') {
      pollTimer = setTimeout(poll, timing.poll);
      probeLater();
    }
  }

  connect();

  const stop = () => {
    stopped = true;
    for (const t of [reconnectTimer, pollTimer, probeTimer, flushTimer]) if (t) clearTimeout(t);
    failPending('stopped', 'Stopped.');
    if (ws) { const s = ws; ws = null; s.close(1000); }
  };

  /**
   * Posts over the socket. Resolves {message_id, duplicate, not_in_room} once the message is on
   * disk; rejects with a LiveError whose status is the REST route's (refused) or 0 (not sent:
   * the socket is not open, or closed first; retry through REST with the same client_id).
   */
  stop.post = ({ client_id, room_id, body, thread_root_id }) => new Promise((resolve, reject) => {
    if (!live || pending.has(client_id)) { reject(new LiveError(0, 'not_sent', 'The socket is not open.')); return; }
    const frame = { type: 'post', client_id, room_id, body };
    if (thread_root_id) frame.thread_root_id = thread_root_id;
    if (!send(frame)) { reject(new LiveError(0, 'not_sent', 'The socket is not open.')); return; }
    const timer = setTimeout(() => {
      pending.delete(client_id);
      reject(new LiveError(0, 'timeout', 'No answer from the server.'));
    }, timing.postTimeout);
    pending.set(client_id, { resolve, reject, timer });
  });

  /** Tells the room's members that we are typing, at most every 3 s per room. */
  stop.typing = (roomId) => {
    const now = Date.now();
    if (!live || now - (lastTyping.get(roomId) || 0) < timing.typingEvery) return;
    if (send({ type: 'typing', room_id: roomId })) lastTyping.set(roomId, now);
  };

  /** 'online' or 'away'; kept and sent again on every reconnect. */
  stop.presence = (status) => {
    if (status === presence) return;
    presence = status;
    send({ type: 'presence', status });
  };

  /**
   * The person did something on the page (typed, clicked, scrolled): the server restarts the
   * session's idle timeout. At most once per timing.activeEvery.
   */
  stop.active = () => {
    const now = Date.now();
    if (!live || now - lastActive < timing.activeEvery) return;
    if (send({ type: 'active' })) lastActive = now;
  };

  /** 'socket' or 'polling'. */
  stop.mode = () => mode;
  /** Whether the socket is open and resumed (posts can go over it). */
  stop.live = () => live;

  return stop;
}
