// Display helpers for dates, roles, names, sizes and durations; the composer's autocomplete rules.

const ROLE_NAMES = { admin: 'Administrator', 'user-manager': 'User manager', moderator: 'Moderator', user: 'User',
  guest: 'Guest', auditor: 'Auditor', bot: 'Bot', member: 'Member', owner: 'Owner' };

export function roleName(role) {
  return ROLE_NAMES[role] || role || 'Unknown';
}

export function initials(name) {
  const words = String(name || '').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "23 Nov 2026, 09:00", or '' when `iso` is not a date. */
export function formatDate(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : dateFormat.format(t);
}

/** "in 8 hours", "5 minutes ago", or '' when `iso` is not a date. */
export function formatRelative(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const seconds = Math.round((t - now) / 1000);
  const units = [['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(seconds, 'second');
}

/** "2 minutes" / "45 seconds" for a wait the server asks for. */
export function formatWait(seconds) {
  if (seconds >= 90) return `${Math.ceil(seconds / 60)} minutes`;
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** "1.5 MB" (powers of 1024, as disks and `du -h` count), "0 B"; '' for what is not a number. */
export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits).replace(/\.0+$|(\.\d*?)0+$/, '$1')} ${BYTE_UNITS[i]}`;
}

/** "3 d 4 h", "2 h 5 min", "45 s" for an uptime in seconds; '' for what is not a number. */
export function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

/** Share of `part` in `whole` as "12%" ("<1%" for a sliver); '' when either is unknown. */
export function formatPercent(part, whole) {
  if (typeof part !== 'number' || typeof whole !== 'number' || !(whole > 0) || part < 0) return '';
  const p = (part / whole) * 100;
  if (p > 0 && p < 1) return '<1%';
  return `${Math.round(p)}%`;
}

// ---- composer autocomplete ----

// What may follow '@' (a user name) and '#' (a channel name) while it is being typed.
const TRIGGER = /(^|[\s([{>])([@#])([\w.-]*)$/;

/**
 * The @mention or #room being typed just before the caret: {kind: '@' | '#', query, start}
 * (start: the index of the '@' or '#'), or null. A '#' or '@' inside a word (an e-mail
 * address, "C#") starts nothing.
 */
export function findTrigger(text, caret = text.length) {
  const m = TRIGGER.exec(String(text).slice(0, caret));
  if (!m) return null;
  return { kind: m[2], query: m[3].toLowerCase(), start: m.index + m[1].length };
}

/**
 * Replaces the trigger's text (from trigger.start to the caret) with `insert` and a space.
 * Returns the new text and where the caret goes.
 */
export function applyCompletion(text, caret, trigger, insert) {
  const before = text.slice(0, trigger.start) + insert + ' ';
  const after = text.slice(caret).replace(/^ /, '');
  return { text: before + after, caret: before.length };
}

/** Rooms whose name starts with the query first, then those containing it; at most `max`. */
export function matchRooms(rooms, query, max = 6) {
  const q = String(query || '').toLowerCase();
  const named = (rooms || []).filter((r) => r && r.name && (r.kind === 'public' || r.kind === 'private'));
  const starts = named.filter((r) => r.name.toLowerCase().startsWith(q));
  const contains = named.filter((r) => !r.name.toLowerCase().startsWith(q) && r.name.toLowerCase().includes(q));
  const byName = (a, b) => a.name.localeCompare(b.name);
  return [...starts.sort(byName), ...contains.sort(byName)].slice(0, max);
}

/** The Markdown the composer inserts for a room: a link the timeline shows as a room link. */
export function roomLink(room) {
  return `[#${room.name}](#/r/${room.id})`;
}
