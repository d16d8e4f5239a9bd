// Admin console: accounts (list, create, disable, enable) and the site's version.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { formatDate, roleName } from './format.js';

export function AdminView({ me, site }) {
  const [users, setUsers] = useState(null);
  const [error, setError] = useState('');
  const [form, setForm] = useState({ username: '', display_name: '', password: '', role: 'user' });
  const load = () => api.get('/users').then((r) => setUsers(r.users || []), (e) => setError(e.message));
  useEffect(() => { load(); }, []);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  async function create(e) {
    e.preventDefault();
    setError('');
    try {
      await api.post('/users', form);
      setForm({ username: '', display_name: '', password: '', role: 'user' });
      load();
    } catch (err) { setError(err.message); }
  }
  async function toggle(u) {
    setError('');
    try { await api.post(`/users/${encodeURIComponent(u.username)}/${u.disabled ? 'enable' : 'disable'}`); load(); } catch (err) { setError(err.message); }
  }
  return html`<main class="admin" id="main">
    <h1>Admin console</h1>
    <p class="muted">${site.name} ${site.version}</p>
    <div class="form-error" role="alert">${error && html`<p>${error}</p>`}</div>
    <section class="card"><h2>Create an account</h2>
      <form class="admin-form" onSubmit=${create}>
        <label class="label">User name<input class="input" required value=${form.username} onInput=${set('username')} /></label>
        <label class="label">Display name<input class="input" value=${form.display_name} onInput=${set('display_name')} /></label>
        <label class="label">Password<input class="input" type="password" autocomplete="new-password" required value=${form.password} onInput=${set('password')} /></label>
        <label class="label">Role<select class="input" value=${form.role} onChange=${set('role')}>
          <option value="user">User</option><option value="auditor">Auditor</option><option value="admin">Administrator</option></select></label>
        <button type="submit" class="primary">Create</button>
      </form></section>
    <section class="card"><h2>Accounts</h2>
      ${users === null ? html`<p>Loading…</p>` : html`<table class="users"><thead><tr><th>User</th><th>Role</th><th>Created</th><th>Status</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${users.map((u) => html`<tr key=${u.id}><td>${u.display_name} <span class="muted">@${u.username}</span></td>
          <td>${roleName(u.role)}</td><td>${formatDate(u.created_at)}</td><td>${u.disabled ? 'Disabled' : 'Active'}</td>
          <td>${u.username !== me.username && html`<button type="button" class="secondary small-btn" onClick=${() => toggle(u)}>${u.disabled ? 'Enable' : 'Disable'}</button>`}</td></tr>`)}</tbody></table>`}
    </section>
  </main>`;
}
