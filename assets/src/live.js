// Live updates. Today: polls GET /api/v1/events?after=<cursor> every 2 s. The WebSocket
// (/api/v1/ws) will replace the poller here, behind the same interface and the same event
// objects ({cursor, type, room_id, at, data}), so nothing else in the client changes.
import { api } from './api.js';

const INTERVAL_MS = 2000;
const LIMIT = 500;

/**
 * Starts delivering events. `onEvents(events)` gets each batch, oldest first; `onStatus(ok)`
 * says whether the server is reachable. Returns a function that stops it.
 */
export function startLive({ onEvents, onStatus = () => {} }) {
  let cursor = null;
  let stopped = false;
  let timer = 0;

  async function tick() {
    timer = 0;
    if (stopped) return;
    try {
      if (cursor === null) {
        // Start from now: history comes from the REST calls.
        const first = await api.get('/events?after=0&limit=1');
        cursor = first.latest || 0;
      } else {
        for (;;) {
          const res = await api.get(`/events?after=${cursor}&limit=${LIMIT}`);
          if (stopped) return;
          const events = res.events || [];
          if (events.length) {
            cursor = events[events.length - 1].cursor;
            onEvents(events);
          } else if (res.latest > cursor) {
            cursor = res.latest;
          }
          if (events.length < LIMIT) break;
        }
      }
      onStatus(true);
    } catch (err) {
      if (err.status === 401) return; // the app shows the sign-in page
      onStatus(false);
    }
    if (!stopped) timer = setTimeout(tick, INTERVAL_MS);
  }

  tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
