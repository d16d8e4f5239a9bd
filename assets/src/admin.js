// The admin console: Users, Rooms, Settings, System status, Backups and the Audit log, as tabs (the WAI
// tabs pattern: arrow keys, Home and End move between them). Each tab is shown only when its
// route answers the signed-in account with something other than 401/403, so an auditor sees
// the audit log alone and custom roles see what their permissions allow; the server decides.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { formatBytes, formatDate, formatDuration, formatPercent, formatRelative, roleName } from './format.js';

// Tab id, label, and the route whose answer decides whether the tab is shown.
const TABS = [
  { id: 'users', label: 'Users', probe: '/users' },
  { id: 'rooms', label: 'Rooms', probe: '/admin/rooms?limit=1' },
  { id: 'settings', label: 'Settings', probe: '/admin/settings' },
  { id: 'status', label: 'System status', probe: '/admin/status' },
  { id: 'backups', label: 'Backups', probe: '/admin/backups' },
  { id: 'audit', label: 'Audit log', probe: '/audit?limit=1' },
];
const ROOM_PAGE = 50;
const AUDIT_PAGE = 50;
const CONSOLE_ROLES = ['admin', 'user-manager', 'auditor'];
// Any of these (src/domain/permissions.cc) opens some tab of the console.
const CONSOLE_PERMISSIONS = ['users.view', 'roles.assign', 'roles.manage', 'rooms.view_all', 'audit.view',
  'backups.view', 'metrics.view', 'settings.view', 'settings.manage'];

/**
 * Whether to offer the admin console to this account (the answer of GET /me). Uses the
 * permission list when the server sends one, the role otherwise; the console itself then asks
 * the server which tabs the account may open.
 */
export function mayOpenConsole(meAnswer) {
  const user = (meAnswer && (meAnswer.user || meAnswer)) || {};
  const perms = (meAnswer && meAnswer.permissions) || user.permissions;
  if (Array.isArray(perms)) return perms.some((p) => CONSOLE_PERMISSIONS.includes(p));
  return CONSOLE_ROLES.includes(user.role);
}

/** The tab named by a '#/admin/<tab>' hash, or ''. */
export function tabFromHash(hash) {
  const m = /^#\/admin\/([a-z]+)/.exec(hash || '');
  return m && TABS.some((t) => t.id === m[1]) ? m[1] : '';
}

const path = (name) => encodeURIComponent(name);

// ---- small shared pieces ----

// A modal dialog: focus goes to its first field, Tab stays inside, Escape closes, and focus
// returns to what opened it.
function Modal({ title, onClose, children }) {
  const ref = useRef(null);
  const titleId = useRef(`dlg-${Math.random().toString(36).slice(2)}`).current;
  useEffect(() => {
    const opener = document.activeElement;
    const first = ref.current && ref.current.querySelector('input,select,textarea,button:not(.dialog-close)');
    if (first) first.focus();
    return () => { if (opener && opener.isConnected) opener.focus(); };
  }, []);
  function onKeyDown(e) {
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); onClose(); return; }
    if (e.key !== 'Tab') return;
    const items = [...ref.current.querySelectorAll('input,select,textarea,button,a[href]')].filter((el) => !el.disabled);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  }
  return html`<div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div class="dialog card" role="dialog" aria-modal="true" aria-labelledby=${titleId} ref=${ref} onKeyDown=${onKeyDown}>
      <div class="dialog-head"><h2 id=${titleId}>${title}</h2>
        <button type="button" class="icon dialog-close" aria-label="Close" onClick=${onClose}>✕</button></div>
      ${children}
    </div>
  </div>`;
}

function Notes({ error, note }) {
  return html`<div class="admin-notes">
    <div role="alert" class="form-error">${error && html`<p>${error}</p>`}</div>
    <div role="status" class="admin-note">${note && html`<p>${note}</p>`}</div>
  </div>`;
}

function Figure({ label, value, hint }) {
  return html`<div class="figure"><dt>${label}</dt><dd>${value === '' || value == null ? '—' : value}
    ${hint && html` <span class="muted small">${hint}</span>`}</dd></div>`;
}

// ---- Users ----

function roleOptions(roles, current) {
  const list = roles ? roles.map((r) => (typeof r === 'string' ? { id: r, name: roleName(r) } : { id: r.id || r.name, name: r.name || roleName(r.id) }))
    : ['user', 'auditor', 'admin'].map((id) => ({ id, name: roleName(id) }));
  if (current && !list.some((r) => r.id === current)) list.push({ id: current, name: roleName(current) });
  return list;
}

function ResetPasswordDialog({ user, onClose, onDone }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    if (password !== again) { setError('The two passwords differ.'); return; }
    setBusy(true);
    setError('');
    try {
      await api.post(`/users/${path(user.username)}/password`, { password });
      onDone(`Password of ${user.username} changed; their sessions have ended.`);
    } catch (err) {
      // The password policy's refusal is the message: show it as the server says it.
      setError(err.message);
      setBusy(false);
    }
  }
  return html`<${Modal} title=${`Reset the password of ${user.display_name || user.username}`} onClose=${onClose}>
    <form onSubmit=${submit} class="admin-form">
      <p class="muted small">Every session of @${user.username} ends. Tell them the new password through a safe channel.</p>
      <label class="label">New password<input class="input" type="password" autocomplete="new-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)} aria-describedby="reset-error" /></label>
      <label class="label">Repeat the new password<input class="input" type="password" autocomplete="new-password" required
        value=${again} onInput=${(e) => setAgain(e.target.value)} /></label>
      <p id="reset-error" class="error-text" role="alert">${error}</p>
      <div class="actions"><button type="button" class="secondary" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Saving…' : 'Set password'}</button></div>
    </form>
  <//>`;
}

function UsersTab({ me }) {
  const [users, setUsers] = useState(null);
  const [roles, setRoles] = useState(null); // null: no roles route; the role is shown read-only
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const [filter, setFilter] = useState('');
  const [resetFor, setResetFor] = useState(null);
  const blank = { username: '', display_name: '', password: '', role: 'user' };
  const [form, setForm] = useState(blank);
  const load = () => api.get('/users').then((r) => setUsers(r.users || []), (e) => setError(e.message));
  useEffect(() => {
    load();
    api.get('/roles').then((r) => setRoles(Array.isArray(r.roles) ? r.roles : null), () => setRoles(null));
  }, []);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  // Runs an action, then says `done` (a string, or a function of the action's answer).
  async function run(fn, done) {
    setError('');
    setNote('');
    try {
      const answer = await fn();
      if (done) setNote(typeof done === 'function' ? done(answer) : done);
      await load();
    } catch (err) { setError(err.message); }
  }
  function create(e) {
    e.preventDefault();
    run(async () => { await api.post('/users', form); setForm(blank); }, `Account ${form.username} created.`);
  }
  const toggle = (u) => run(() => api.post(`/users/${path(u.username)}/${u.disabled ? 'enable' : 'disable'}`),
    `${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`);
  // Anyone may be unlocked: the answer says whether the account was locked after failed logins.
  const unlock = (u) => run(() => api.post(`/users/${path(u.username)}/unlock`),
    (r) => (r && r.was_locked === false ? `${u.username} was not locked.` : `${u.username} unlocked.`));
  const changeRole = (u, role) => run(() => api.put(`/users/${path(u.username)}/role`, { role }),
    `${u.username} is now ${roleName(role)}.`);
  const f = filter.trim().toLowerCase();
  const shown = (users || []).filter((u) => !f || u.username.toLowerCase().includes(f) || (u.display_name || '').toLowerCase().includes(f));
  const opts = roleOptions(roles);
  return html`
    <${Notes} error=${error} note=${note} />
    <section class="card" aria-labelledby="h-create"><h2 id="h-create">Create an account</h2>
      <form class="admin-form admin-grid" onSubmit=${create}>
        <label class="label">User name<input class="input" required autocomplete="off" value=${form.username} onInput=${set('username')} /></label>
        <label class="label">Display name<input class="input" value=${form.display_name} onInput=${set('display_name')} /></label>
        <label class="label">Password<input class="input" type="password" autocomplete="new-password" required value=${form.password} onInput=${set('password')} /></label>
        <label class="label">Role<select class="input" value=${form.role} onChange=${set('role')}>
          ${opts.map((r) => html`<option value=${r.id}>${r.name}</option>`)}</select></label>
        <div class="actions"><button type="submit" class="primary">Create</button></div>
      </form></section>
    <section class="card" aria-labelledby="h-accounts"><div class="card-head"><h2 id="h-accounts">Accounts</h2>
      <input type="search" class="input filter-input" aria-label="Filter accounts" placeholder="Filter accounts" value=${filter}
        onInput=${(e) => setFilter(e.target.value)} /></div>
      ${users === null ? html`<p>Loading…</p>` : html`<div class="table-wrap"><table class="admin-table users">
        <thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
        <tbody>${shown.map((u) => {
          const self = u.username === me.username;
          const locked = u.locked || (u.locked_until && Date.parse(u.locked_until) > Date.now());
          return html`<tr key=${u.id} data-user=${u.username}>
            <td>${u.display_name} <span class="muted">@${u.username}</span></td>
            <td>${roles && !self ? html`<select class="input input-small" aria-label=${`Role of ${u.username}`} value=${u.role}
                onChange=${(e) => changeRole(u, e.target.value)}>${roleOptions(roles, u.role).map((r) => html`<option value=${r.id}>${r.name}</option>`)}</select>`
              : roleName(u.role)}</td>
            <td>${formatDate(u.created_at)}</td>
            <td>${u.disabled ? 'Disabled' : locked ? 'Locked' : 'Active'}</td>
            <td class="row-actions">
              ${!self && html`<button type="button" class="secondary small-btn" onClick=${() => toggle(u)}
                aria-label=${`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`}>${u.disabled ? 'Enable' : 'Disable'}</button>`}
              <button type="button" class="secondary small-btn" onClick=${() => { setNote(''); setResetFor(u); }}
                aria-label=${`Reset password of ${u.username}`}>Reset password</button>
              ${!self && !u.disabled && html`<button type="button" class="secondary small-btn" onClick=${() => unlock(u)}
                aria-label=${`Unlock ${u.username}`}>Unlock</button>`}
            </td></tr>`;
        })}
        ${shown.length === 0 && html`<tr><td colspan="5" class="muted">No accounts match.</td></tr>`}</tbody></table></div>`}
      ${!roles && users !== null && html`<p class="muted small">Roles are changed with <code>outpost user</code> on this server version.</p>`}
    </section>
    ${resetFor && html`<${ResetPasswordDialog} user=${resetFor} onClose=${() => setResetFor(null)}
      onDone=${(msg) => { setResetFor(null); setNote(msg); }} />`}`;
}

// ---- Rooms ----

function OwnersDialog({ room, onClose, onChanged }) {
  const [members, setMembers] = useState(null);
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const [name, setName] = useState('');
  const load = () => api.get(`/rooms/${room.id}/members`).then((r) => setMembers(r.members || []), (e) => setError(e.message));
  useEffect(() => { load(); }, []);
  async function run(fn, done) {
    setError('');
    setNote('');
    try { await fn(); setNote(done); await load(); onChanged(); } catch (err) { setError(err.message); }
  }
  const setRole = (username, role) => run(() => api.put(`/rooms/${room.id}/members/${path(username)}/role`, { role }),
    `${username} is now ${role} of #${room.name}.`);
  function addOwner(e) {
    e.preventDefault();
    const who = name.trim().replace(/^@/, '');
    if (!who) return;
    run(async () => {
      if (!(members || []).some((m) => m.username === who)) await api.post(`/rooms/${room.id}/members`, { username: who });
      await api.put(`/rooms/${room.id}/members/${path(who)}/role`, { role: 'owner' });
      setName('');
    }, `${who} is now owner of #${room.name}.`);
  }
  return html`<${Modal} title=${`Owners and members of #${room.name}`} onClose=${onClose}>
    <${Notes} error=${error} note=${note} />
    <form class="inline-form" onSubmit=${addOwner}>
      <label class="label">Make owner (user name)<input class="input" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
      <button type="submit" class="primary">Make owner</button>
    </form>
    ${members === null ? html`<p>Loading…</p>` : html`<ul class="list member-roles">
      ${members.map((m) => html`<li key=${m.id}><span>${m.display_name || m.username} <span class="muted">@${m.username}</span></span>
        <select class="input input-small" aria-label=${`Room role of ${m.username}`} value=${m.role || 'member'}
          onChange=${(e) => setRole(m.username, e.target.value)}>
          <option value="owner">Owner</option><option value="moderator">Moderator</option><option value="member">Member</option></select></li>`)}
      ${members.length === 0 && html`<li class="muted">Nobody is in this room.</li>`}
    </ul>`}
  <//>`;
}

function DeleteRoomDialog({ room, onClose, onDeleted }) {
  const [typed, setTyped] = useState('');
  const [error, setError] = useState('');
  async function submit(e) {
    e.preventDefault();
    try { await api.del(`/rooms/${room.id}`); onDeleted(); } catch (err) { setError(err.message); }
  }
  return html`<${Modal} title=${`Delete #${room.name}?`} onClose=${onClose}>
    <form onSubmit=${submit} class="admin-form">
      <p>Its ${room.member_count} members lose the room, its messages and its files. This cannot be undone; archiving keeps everything readable.</p>
      <label class="label">Type the room's name to confirm<input class="input" autocomplete="off" value=${typed}
        onInput=${(e) => setTyped(e.target.value)} /></label>
      <p class="error-text" role="alert">${error}</p>
      <div class="actions"><button type="button" class="secondary" onClick=${onClose}>Cancel</button>
        <button type="submit" class="danger-btn" disabled=${typed !== room.name}>Delete room</button></div>
    </form>
  <//>`;
}

function RoomsTab() {
  const [rooms, setRooms] = useState(null);
  const [next, setNext] = useState(null);
  const [q, setQ] = useState('');
  const [archived, setArchived] = useState('all');
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const [owners, setOwners] = useState(null);
  const [deleting, setDeleting] = useState(null);
  async function load(after) {
    setError('');
    try {
      const r = await api.get(`/admin/rooms?limit=${ROOM_PAGE}&archived=${archived}&q=${encodeURIComponent(q.trim())}${after ? `&after_id=${after}` : ''}`);
      setRooms((prev) => (after ? [...(prev || []), ...(r.rooms || [])] : r.rooms || []));
      setNext(r.next_after_id || null);
    } catch (err) { setError(err.message); }
  }
  useEffect(() => { const t = setTimeout(() => load(null), 150); return () => clearTimeout(t); }, [q, archived]);
  async function setArchivedFlag(room, flag) {
    setError('');
    setNote('');
    try {
      await api.post(`/rooms/${room.id}/${flag ? 'archive' : 'unarchive'}`);
      setNote(`#${room.name} ${flag ? 'archived' : 'unarchived'}.`);
      setRooms((list) => list.map((r) => (r.id === room.id ? { ...r, archived: flag } : r)));
    } catch (err) { setError(err.message); }
  }
  return html`
    <${Notes} error=${error} note=${note} />
    <section class="card" aria-labelledby="h-rooms"><div class="card-head"><h2 id="h-rooms">Channels</h2>
      <div class="filters">
        <input type="search" class="input filter-input" aria-label="Search channels by name or topic" placeholder="Name or topic"
          value=${q} onInput=${(e) => setQ(e.target.value)} />
        <select class="input input-small" aria-label="Which channels" value=${archived} onChange=${(e) => setArchived(e.target.value)}>
          <option value="all">All</option><option value="none">Active</option><option value="only">Archived</option></select>
      </div></div>
      <p class="muted small">Every public and private channel. Direct messages stay private to their members.</p>
      ${rooms === null ? html`<p>Loading…</p>` : html`<div class="table-wrap"><table class="admin-table rooms">
        <thead><tr><th scope="col">Channel</th><th scope="col">Members</th><th scope="col">Owners</th><th scope="col">Last message</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
        <tbody>${rooms.map((r) => html`<tr key=${r.id} data-room=${r.name}>
          <td><strong>${r.kind === 'private' ? '🔒 ' : '# '}${r.name}</strong>${r.default && html` <span class="muted small">(default)</span>`}
            ${r.topic && html`<div class="muted small">${r.topic}</div>`}</td>
          <td>${r.member_count}</td>
          <td>${r.owners.length ? r.owners.map((o) => o.username).join(', ') : html`<span class="muted">none</span>`}</td>
          <td>${r.last_message_at ? formatRelative(r.last_message_at) : html`<span class="muted">never</span>`}</td>
          <td>${r.archived ? 'Archived' : r.kind === 'private' ? 'Private' : 'Public'}</td>
          <td class="row-actions">
            <button type="button" class="secondary small-btn" aria-label=${`Owners of ${r.name}`} onClick=${() => setOwners(r)}>Owners</button>
            <button type="button" class="secondary small-btn" aria-label=${`${r.archived ? 'Unarchive' : 'Archive'} ${r.name}`}
              onClick=${() => setArchivedFlag(r, !r.archived)}>${r.archived ? 'Unarchive' : 'Archive'}</button>
            <button type="button" class="secondary small-btn danger" aria-label=${`Delete ${r.name}`} onClick=${() => setDeleting(r)}>Delete</button>
          </td></tr>`)}
        ${rooms.length === 0 && html`<tr><td colspan="6" class="muted">No channels match.</td></tr>`}</tbody></table></div>
        ${next && html`<button type="button" class="secondary" onClick=${() => load(next)}>Load more</button>`}`}
    </section>
    ${owners && html`<${OwnersDialog} room=${owners} onClose=${() => setOwners(null)} onChanged=${() => load(null)} />`}
    ${deleting && html`<${DeleteRoomDialog} room=${deleting} onClose=${() => setDeleting(null)}
      onDeleted=${() => { setNote(`#${deleting.name} deleted.`); setRooms((list) => list.filter((x) => x.id !== deleting.id)); setDeleting(null); }} />`}`;
}

// ---- Settings ----

const SETTING_LABELS = { banner_text: 'Classification banner text', banner_color: 'Banner color', login_notice: 'Sign-in notice' };

function SettingsTab() {
  const [data, setData] = useState(null);
  const [draft, setDraft] = useState({});
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  function take(r) {
    setData(r);
    setDraft(Object.fromEntries(Object.entries(r.settings).map(([k, v]) => [k, v.value])));
  }
  useEffect(() => { api.get('/admin/settings').then(take, (e) => setError(e.message)); }, []);
  async function save(changes, done) {
    setError('');
    setNote('');
    try { take(await api.patch('/admin/settings', changes)); setNote(done); } catch (err) { setError(err.message); }
  }
  function submit(e) {
    e.preventDefault();
    const changes = {};
    for (const [k, v] of Object.entries(draft)) if (v !== data.settings[k].value) changes[k] = v;
    if (!Object.keys(changes).length) { setNote('Nothing to save.'); return; }
    save(changes, 'Saved. New pages show it at once; pages already open show it after a reload.');
  }
  if (!data) return html`<${Notes} error=${error} />${!error && html`<p>Loading…</p>`}`;
  const field = (key, input) => {
    const s = data.settings[key];
    return html`<div class="setting">
      <label class="label">${SETTING_LABELS[key]}${input}</label>
      <p class="muted small">${s.overridden ? 'Changed here; the configuration file says ' : 'From the configuration file'}
        ${s.overridden && html`<q>${s.default || '(empty)'}</q> `}
        ${s.overridden && html`<button type="button" class="link" onClick=${() => save({ [key]: null }, `${SETTING_LABELS[key]} is the configuration file's again.`)}
          aria-label=${`Reset ${SETTING_LABELS[key].toLowerCase()} to the configuration file's value`}>Reset</button>`}</p>
    </div>`;
  };
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.target.value });
  return html`
    <${Notes} error=${error} note=${note} />
    <section class="card" aria-labelledby="h-settings"><h2 id="h-settings">Banner and sign-in notice</h2>
      <p class="muted small">These apply at once, without a restart, and are audited (<code>settings.update</code>). Everything else is set in the configuration file.</p>
      <form class="admin-form" onSubmit=${submit}>
        ${field('banner_text', html`<input class="input" maxlength="200" value=${draft.banner_text} onInput=${set('banner_text')} />`)}
        ${field('banner_color', html`<select class="input input-small" value=${draft.banner_color} onChange=${set('banner_color')}>
          ${(data.banner_colors || []).map((c) => html`<option value=${c}>${c}</option>`)}</select>`)}
        ${field('login_notice', html`<textarea class="input" rows="6" value=${draft.login_notice} onInput=${set('login_notice')}></textarea>`)}
        <div class="actions"><button type="submit" class="primary">Save</button></div>
      </form>
    </section>`;
}

// ---- System status ----

function StatusTab() {
  const [s, setS] = useState(null);
  const [error, setError] = useState('');
  const [at, setAt] = useState(0);
  const load = () => api.get('/admin/status').then((r) => { setS(r); setError(''); setAt(Date.now()); }, (e) => setError(e.message));
  useEffect(() => {
    load();
    const t = setInterval(() => { if (!document.hidden) load(); }, 15000);
    return () => clearInterval(t);
  }, []);
  if (!s) return html`<${Notes} error=${error} />${!error && html`<p>Loading…</p>`}`;
  const c = s.connections || {};
  const db = s.database || {};
  const disk = s.disk || {};
  const audit = s.audit || {};
  const b = s.backup;
  const used = typeof disk.total_bytes === 'number' && typeof disk.free_bytes === 'number' ? disk.total_bytes - disk.free_bytes : null;
  const lowDisk = typeof disk.free_bytes === 'number' && disk.total_bytes > 0 && disk.free_bytes / disk.total_bytes < 0.1;
  const store = audit.storage || {};
  const auditAlert = store.alert === true;
  const fwd = audit.forward || {};
  return html`
    <${Notes} error=${error} />
    <div class="card-head"><p class="muted small">Updated ${new Date(at).toLocaleTimeString()}; refreshes every 15 seconds.</p>
      <button type="button" class="secondary small-btn" onClick=${load}>Refresh</button></div>
    <div class="status-grid">
      <section class="card" aria-labelledby="h-server"><h2 id="h-server">Server</h2><dl class="figures">
        <${Figure} label="Version" value=${s.version} />
        <${Figure} label="Up for" value=${formatDuration(s.uptime_seconds)} hint=${s.started_at && `since ${formatDate(s.started_at)}`} />
        <${Figure} label="HTTPS connections" value=${c.https} />
        <${Figure} label="WebSockets" value=${c.websockets} hint=${c.online_users != null && `${c.online_users} people online`} />
        <${Figure} label="Accounts" value=${s.users && s.users.total} hint=${s.users && s.users.disabled ? `${s.users.disabled} disabled` : ''} />
        <${Figure} label="Channels" value=${s.rooms && s.rooms.public + s.rooms.private}
          hint=${s.rooms && `${s.rooms.private} private, ${s.rooms.archived} archived, ${s.rooms.direct} direct messages`} />
      </dl></section>
      <section class="card" aria-labelledby="h-storage"><h2 id="h-storage">Storage</h2><dl class="figures">
        <${Figure} label="Database" value=${formatBytes(db.file_bytes)} hint=${db.wal_bytes ? `+ ${formatBytes(db.wal_bytes)} write-ahead log` : ''} />
        <${Figure} label="Files" value=${formatBytes(s.files && s.files.stored_bytes)} hint=${s.files && `${s.files.blobs} stored`} />
        <${Figure} label="Free disk" value=${formatBytes(disk.free_bytes)}
          hint=${disk.total_bytes ? `of ${formatBytes(disk.total_bytes)} (${formatPercent(used, disk.total_bytes)} used) at ${disk.path}` : disk.path} />
        <${Figure} label="Audit log" value=${formatBytes(audit.bytes)}
          hint=${store.max_bytes > 0 ? `${formatPercent(store.size_bytes, store.max_bytes)} of ${formatBytes(store.max_bytes)}, alert at 75%; ${audit.last_seq || 0} records`
            : `${audit.last_seq || 0} records`} />
        ${fwd.enabled && html`<${Figure} label="SIEM forwarding" value=${fwd.down ? 'Down' : fwd.connected ? 'Connected' : 'Idle'}
          hint=${`${fwd.lag_records || 0} records waiting${fwd.last_error ? `; last error: ${fwd.last_error}` : ''}`} />`}
      </dl>
      ${lowDisk && html`<p class="warn-text" role="note">Less than 10% of the disk is free.</p>`}
      ${auditAlert && html`<p class="warn-text" role="note">The audit log has reached its alert size.</p>`}
      </section>
      <section class="card" aria-labelledby="h-lastbackup"><h2 id="h-lastbackup">Last backup</h2>
        ${!b ? html`<p class="muted">Backups by the server are not available.</p>` : html`<dl class="figures">
          <${Figure} label="Result" value=${b.last_result === 'success' ? 'Succeeded' : b.last_result === 'failure' ? 'Failed' : 'None since start'}
            hint=${b.last_attempt_at && formatDate(b.last_attempt_at)} />
          ${b.last_error && html`<${Figure} label="Error" value=${b.last_error} />`}
          ${b.last_file && html`<${Figure} label="Archive" value=${b.last_file} hint=${formatBytes(b.last_bytes)} />`}
          <${Figure} label="Next scheduled" value=${b.next_run_at ? formatDate(b.next_run_at) : 'Not scheduled'} />
        </dl>`}
      </section>
    </div>`;
}

// ---- Backups ----

function BackupsTab() {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const [running, setRunning] = useState(0); // start time while a backup runs
  const [elapsed, setElapsed] = useState(0);
  const [result, setResult] = useState(null);
  const load = () => api.get('/admin/backups').then((r) => { setData(r); setError(''); }, (e) => setError(e.message));
  useEffect(() => { load(); }, []);
  useEffect(() => {
    if (!running) return undefined;
    const t = setInterval(() => setElapsed(Math.round((Date.now() - running) / 1000)), 1000);
    return () => clearInterval(t);
  }, [running]);
  async function backUp() {
    setResult(null);
    setError('');
    setElapsed(0);
    setRunning(Date.now());
    try {
      const r = await api.post('/admin/backups');
      setResult({ ok: true, text: `Backup ${r.name} written: ${formatBytes(r.size)}, ${r.members} members.` });
    } catch (err) {
      setResult({ ok: false, text: `Backup failed: ${err.message}` });
    } finally {
      setRunning(0);
      load();
    }
  }
  const sch = data && data.scheduler;
  return html`
    <${Notes} error=${error} />
    <section class="card" aria-labelledby="h-backup-now"><h2 id="h-backup-now">Back up now</h2>
      <p class="muted small">The same encrypted archive as the scheduled backup, written to the backup folder${sch && sch.dir ? ` (${sch.dir})` : ''}.
        Restoring is done on the appliance's shell: <code>outpost backup restore</code>.</p>
      <div class="inline-form">
        <button type="button" class="primary" onClick=${backUp} disabled=${!!running} aria-describedby="backup-progress">Back up now</button>
        <div id="backup-progress" class="backup-progress" role="status" aria-live="polite">
          ${running ? html`<progress aria-label="Backup in progress"></progress> <span>Backing up… ${elapsed} s</span>` : ''}
          ${!running && result && result.ok && html`<span class="ok-text">${result.text}</span>`}
        </div>
      </div>
      <div role="alert">${!running && result && !result.ok && html`<p class="error-text">${result.text}</p>`}</div>
    </section>
    ${data === null ? !error && html`<p>Loading…</p>` : html`
    <section class="card" aria-labelledby="h-schedule"><h2 id="h-schedule">Schedule</h2><dl class="figures">
      <${Figure} label="Daily at" value=${sch.schedule || 'Not scheduled'} hint=${sch.schedule ? `keeps the newest ${sch.keep}` : 'set [backup] schedule in the configuration'} />
      <${Figure} label="Next run" value=${sch.next_run_at ? formatDate(sch.next_run_at) : '—'} />
      <${Figure} label="Runs since start" value=${sch.runs} hint=${sch.failures ? `${sch.failures} failed` : ''} />
      <${Figure} label="Last success" value=${sch.last_success_at ? formatDate(sch.last_success_at) : 'None since start'}
        hint=${sch.last_duration_seconds ? `took ${formatDuration(sch.last_duration_seconds)}` : ''} />
      ${sch.last_error && html`<${Figure} label="Last error" value=${sch.last_error} />`}
    </dl></section>
    <section class="card" aria-labelledby="h-archives"><h2 id="h-archives">Archives</h2>
      ${data.backups.length === 0 ? html`<p class="muted">No archive in the backup folder.</p>` : html`<div class="table-wrap"><table class="admin-table backups">
        <thead><tr><th scope="col">Archive</th><th scope="col">Made</th><th scope="col">Size</th><th scope="col">Key</th><th scope="col">State</th></tr></thead>
        <tbody>${data.backups.map((a) => html`<tr key=${a.name}><td><code>${a.name}</code>${a.scheduled && html` <span class="muted small">scheduled</span>`}</td>
          <td>${formatDate(a.created_at)}</td><td>${formatBytes(a.size)}</td><td>${a.key === 'passphrase' ? 'Passphrase' : 'Key file'}</td>
          <td>${a.status === 'complete' ? 'Complete' : html`<span class="error-text">Incomplete${a.problem ? `: ${a.problem}` : ''}</span>`}</td></tr>`)}</tbody>
      </table></div>`}
    </section>`}`;
}

// ---- Audit log ----

// A datetime-local value ("2026-11-23T09:00", local time) as ISO 8601 UTC, or '' when empty.
function isoFromLocal(value) {
  if (!value) return '';
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString();
}

function AuditTab() {
  const [filters, setFilters] = useState({ actor: '', action: '', since: '', until: '' });
  const [records, setRecords] = useState(null);
  const [next, setNext] = useState(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  async function load(before) {
    setBusy(true);
    setError('');
    const p = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (filters.actor.trim()) p.set('actor', filters.actor.trim());
    if (filters.action.trim()) p.set('action', filters.action.trim());
    const since = isoFromLocal(filters.since);
    const until = isoFromLocal(filters.until);
    if (since) p.set('since', since);
    if (until) p.set('until', until);
    if (before) p.set('before_seq', String(before));
    try {
      const r = await api.get(`/audit?${p}`);
      setRecords((prev) => (before ? [...(prev || []), ...(r.records || [])] : r.records || []));
      setNext(r.next_before_seq || null);
    } catch (err) { setError(err.message); } finally { setBusy(false); }
  }
  useEffect(() => { load(null); }, []);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  return html`
    <${Notes} error=${error} />
    <section class="card" aria-labelledby="h-audit"><h2 id="h-audit">Audit log</h2>
      <form class="admin-form admin-grid" role="search" aria-label="Filter the audit log" onSubmit=${(e) => { e.preventDefault(); load(null); }}>
        <label class="label">Actor (user name)<input class="input" value=${filters.actor} onInput=${set('actor')} /></label>
        <label class="label">Action (or its start, e.g. auth.)<input class="input" list="audit-actions" value=${filters.action} onInput=${set('action')} /></label>
        <datalist id="audit-actions">${['auth.', 'user.', 'role.', 'room.', 'member.', 'message.', 'file.', 'backup.', 'settings.', 'server.']
          .map((a) => html`<option value=${a}></option>`)}</datalist>
        <label class="label">From<input class="input" type="datetime-local" value=${filters.since} onInput=${set('since')} /></label>
        <label class="label">Until<input class="input" type="datetime-local" value=${filters.until} onInput=${set('until')} /></label>
        <div class="actions"><button type="submit" class="primary" disabled=${busy}>Search</button></div>
      </form>
      ${records === null ? html`<p>${busy ? 'Loading…' : ''}</p>` : html`<div class="table-wrap"><table class="admin-table audit">
        <caption class="sr-only">Audit records, newest first</caption>
        <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Address</th><th scope="col">Details</th></tr></thead>
        <tbody>${records.map((r) => html`<tr key=${r.seq}>
          <td>${r.seq}</td><td><time datetime=${r.time}>${formatDate(r.time)}</time></td><td>${r.actor}</td><td><code>${r.action}</code></td>
          <td>${r.target}</td><td class=${r.outcome === 'success' ? '' : 'error-text'}>${r.outcome}</td><td>${r.source_ip}</td>
          <td class="details">${r.details && (typeof r.details === 'string' ? r.details : Object.keys(r.details).length ? html`<code>${JSON.stringify(r.details)}</code>` : '')}</td></tr>`)}
          ${records.length === 0 && html`<tr><td colspan="8" class="muted">No records match.</td></tr>`}</tbody></table></div>
        ${next && html`<button type="button" class="secondary" disabled=${busy} onClick=${() => load(next)}>Older records</button>`}`}
    </section>`;
}

// ---- the console ----

function TabList({ tabs, current, onSelect }) {
  const refs = useRef({});
  function onKeyDown(e) {
    const i = tabs.findIndex((t) => t.id === current);
    let j = -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    if (j < 0) return;
    e.preventDefault();
    onSelect(tabs[j].id);
    const el = refs.current[tabs[j].id];
    if (el) el.focus();
  }
  return html`<div class="tabs" role="tablist" aria-label="Admin console sections" onKeyDown=${onKeyDown}>
    ${tabs.map((t) => html`<button type="button" role="tab" key=${t.id} id=${`tab-${t.id}`} class="tab"
      aria-selected=${t.id === current ? 'true' : 'false'} aria-controls=${t.id === current ? `panel-${t.id}` : undefined} tabindex=${t.id === current ? 0 : -1}
      ref=${(el) => { refs.current[t.id] = el; }} onClick=${() => onSelect(t.id)}>${t.label}</button>`)}
  </div>`;
}

/** The admin console. `initialTab` comes from the '#/admin/<tab>' hash. */
export function AdminView({ me, site, initialTab }) {
  // Tab id -> true (shown), false (refused), undefined (still asking).
  const [allowed, setAllowed] = useState({});
  const [tab, setTab] = useState(initialTab || '');
  useEffect(() => {
    for (const t of TABS) {
      api.get(t.probe).then(() => true, (e) => e.status !== 403 && e.status !== 401)
        .then((ok) => setAllowed((a) => ({ ...a, [t.id]: ok })));
    }
  }, []);
  const decided = TABS.every((t) => allowed[t.id] !== undefined);
  const tabs = TABS.filter((t) => allowed[t.id]);
  const current = tabs.some((t) => t.id === tab) ? tab : decided && tabs.length ? tabs[0].id : '';
  function select(id) {
    setTab(id);
    history.replaceState(null, '', `#/admin/${id}`);
  }
  let panel = null;
  if (current === 'users') panel = html`<${UsersTab} me=${me} />`;
  else if (current === 'rooms') panel = html`<${RoomsTab} />`;
  else if (current === 'settings') panel = html`<${SettingsTab} />`;
  else if (current === 'status') panel = html`<${StatusTab} />`;
  else if (current === 'backups') panel = html`<${BackupsTab} />`;
  else if (current === 'audit') panel = html`<${AuditTab} />`;
  return html`<main class="admin" id="main" aria-labelledby="admin-title">
    <div class="admin-head"><h1 id="admin-title">Admin console</h1><p class="muted">${site.name} ${site.version}</p></div>
    ${!decided && !current ? html`<p>Loading…</p>`
      : tabs.length === 0 ? html`<p>This account may not use any part of the admin console.</p>`
      : html`<${TabList} tabs=${tabs} current=${current} onSelect=${select} />
        <div class="tab-panel" role="tabpanel" id=${`panel-${current}`} aria-labelledby=${`tab-${current}`} tabindex="0" key=${current}>
          ${panel}
        </div>`}
  </main>`;
}
