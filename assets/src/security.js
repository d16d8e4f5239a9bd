// The Security page (#/security): change password, two-factor authentication (enrol, recovery
// codes, turn off) and the signed-in sessions with revoke. Everything goes through
// /api/v1/me/password, /api/v1/me/2fa and /api/v1/me/sessions; passwords, secrets and recovery
// codes live only in this page's state.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { EnrolmentSecret, RecoveryCodes } from './login.js';

function when(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : new Date(t).toLocaleString();
}

function TwoFactorCard() {
  const [state, setState] = useState(null);
  const [enrolment, setEnrolment] = useState(null);
  const [codes, setCodes] = useState(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [mode, setMode] = useState(null); // null | 'disable' | 'regenerate'
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () => api.get('/me/2fa').then(setState, (e) => setError(e.message));
  useEffect(() => { load(); }, []);

  async function run(fn) {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e.message);
    }
    setBusy(false);
  }

  const start = () => run(async () => { setCodes(null); setEnrolment(await api.post('/me/2fa/enrol')); });
  const confirm = (e) => { e.preventDefault(); run(async () => {
    const r = await api.post('/me/2fa/confirm', { code: code.trim() });
    setCode(''); setEnrolment(null); setCodes(r.recovery_codes); await load();
  }); };
  const disable = (e) => { e.preventDefault(); run(async () => {
    await api.post('/me/2fa/disable', { password, code: code.trim() });
    setPassword(''); setCode(''); setMode(null); await load();
  }); };
  const regenerate = (e) => { e.preventDefault(); run(async () => {
    const r = await api.post('/me/2fa/recovery-codes', { code: code.trim() });
    setCode(''); setMode(null); setCodes(r.recovery_codes); await load();
  }); };

  const codeField = html`<div class="field">
      <label for="sec-code">Code from your authenticator app</label>
      <input id="sec-code" type="text" inputmode="numeric" autocomplete="one-time-code" value=${code}
        onInput=${(e) => setCode(e.currentTarget.value)} />
    </div>`;

  return html`<section class="card" aria-labelledby="sec-2fa">
    <div class="card-head"><h2 id="sec-2fa">Two-factor authentication</h2></div>
    ${!state ? html`<p class="muted">Loading…</p>` : html`
      <p>${state.enabled
        ? `On since ${when(state.enabled_at)}. ${state.recovery_codes_left} recovery codes left.`
        : 'Off. Sign-in asks only for your password.'}
        ${state.required ? ' Your role requires it.' : ''}</p>
      ${codes && html`<${RecoveryCodes} codes=${codes} />`}
      ${!state.enabled && !enrolment && html`<button type="button" class="primary" onClick=${start}>Set up two-factor authentication</button>`}
      ${!state.enabled && enrolment && html`<form onSubmit=${confirm}>
          <${EnrolmentSecret} enrolment=${enrolment} />
          ${codeField}
          <button type="submit" class="primary">Turn on</button>
        </form>`}
      ${state.enabled && mode === null && html`<div>
          <button type="button" class="secondary" onClick=${() => setMode('regenerate')}>New recovery codes</button>
          ${' '}${!state.required && html`<button type="button" class="secondary danger" onClick=${() => setMode('disable')}>Turn off</button>`}
        </div>`}
      ${state.enabled && mode === 'regenerate' && html`<form onSubmit=${regenerate}>
          ${codeField}
          <button type="submit" class="primary">Replace recovery codes</button>
          ${' '}<button type="button" class="link" onClick=${() => setMode(null)}>Cancel</button>
        </form>`}
      ${state.enabled && mode === 'disable' && html`<form onSubmit=${disable}>
          <div class="field">
            <label for="sec-password">Password</label>
            <input id="sec-password" type="password" autocomplete="current-password" value=${password}
              onInput=${(e) => setPassword(e.currentTarget.value)} />
          </div>
          ${codeField}
          <button type="submit" class="secondary danger">Turn off two-factor authentication</button>
          ${' '}<button type="button" class="link" onClick=${() => setMode(null)}>Cancel</button>
        </form>`}`}
    <div class="form-error" aria-live="assertive">${error && html`<p>${error}</p>`}</div>
  </section>`;
}

function SessionsCard({ onSignedOut }) {
  const [sessions, setSessions] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api.get('/me/sessions').then((r) => setSessions(r.sessions), (e) => setError(e.message));
  useEffect(() => { load(); }, []);

  async function revoke(s) {
    setError(null);
    try {
      await api.del(`/me/sessions/${s.id}`);
      if (s.current) { onSignedOut(); return; }
      await load();
    } catch (e) {
      setError(e.message);
    }
  }
  async function revokeOthers() {
    setError(null);
    try {
      await api.del('/me/sessions');
      await load();
    } catch (e) {
      setError(e.message);
    }
  }

  return html`<section class="card" aria-labelledby="sec-sessions">
    <div class="card-head"><h2 id="sec-sessions">Where you are signed in</h2>
      ${sessions && sessions.length > 1 && html`<button type="button" class="secondary" onClick=${revokeOthers}>Sign out everywhere else</button>`}</div>
    ${!sessions ? html`<p class="muted">Loading…</p>` : html`<table>
      <thead><tr><th scope="col">Browser</th><th scope="col">Address</th><th scope="col">Signed in</th><th scope="col">Last seen</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${sessions.map((s) => html`<tr key=${s.id}>
        <td>${s.user_agent || 'unknown'}${s.current && html` <strong>(this browser)</strong>`}</td>
        <td>${s.remote_addr}</td><td>${when(s.created_at)}</td><td>${when(s.last_seen_at)}</td>
        <td><button type="button" class="secondary danger" onClick=${() => revoke(s)}>${s.current ? 'Sign out' : 'Revoke'}</button></td>
      </tr>`)}</tbody></table>`}
    <div class="form-error" aria-live="assertive">${error && html`<p>${error}</p>`}</div>
  </section>`;
}

// POST /api/v1/me/password: the current password and the new one (the policy's refusal is
// shown as the server words it); the other sessions end, this one stays. `onChanged`, when
// given, is called after a change instead of showing that it was done.
function PasswordCard({ onChanged }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    if (busy) return;
    setError(null);
    setDone(false);
    if (next !== again) {
      setError('The two new passwords differ.');
      return;
    }
    setBusy(true);
    try {
      await api.post('/me/password', { current_password: current, new_password: next });
      setCurrent('');
      setNext('');
      setAgain('');
      if (onChanged) onChanged();
      else setDone(true);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }

  const field = (id, label, value, set, autocomplete) => html`<div class="field">
      <label for=${id}>${label}</label>
      <input id=${id} type="password" autocomplete=${autocomplete} value=${value} required
        onInput=${(e) => set(e.currentTarget.value)} />
    </div>`;
  return html`<section class="card" aria-labelledby="sec-password-title">
    <div class="card-head"><h2 id="sec-password-title">Password</h2></div>
    <form onSubmit=${submit}>
      ${field('sec-current', 'Current password', current, setCurrent, 'current-password')}
      ${field('sec-new', 'New password', next, setNext, 'new-password')}
      ${field('sec-again', 'New password again', again, setAgain, 'new-password')}
      <button type="submit" class="primary" disabled=${busy}>Change password</button>
    </form>
    <div role="status">${done && html`<p>Password changed. Your other sessions have been signed out.</p>`}</div>
    <div class="form-error" aria-live="assertive">${error && html`<p>${error}</p>`}</div>
  </section>`;
}

/** The page. `onBack` returns to the chat; `onSignedOut` after revoking this very session. */
export function SecurityView({ onBack, onSignedOut }) {
  useEffect(() => { document.title = 'Security'; }, []);
  return html`<main class="admin" id="main" aria-labelledby="sec-title">
    <div class="card-head"><h1 id="sec-title">Security</h1>
      <button type="button" class="link" onClick=${onBack}>Back to chat</button></div>
    <${PasswordCard} />
    <${TwoFactorCard} />
    <${SessionsCard} onSignedOut=${onSignedOut} />
  </main>`;
}

/**
 * Shown instead of the chat while the password has expired (`password_change_required` in /me,
 * [auth] password_profile = stig): the server answers every other route with 403 until then.
 */
export function ExpiredPasswordView({ onChanged, onSignOut }) {
  useEffect(() => { document.title = 'Change your password'; }, []);
  return html`<main class="admin" id="main" aria-labelledby="expired-title">
    <div class="card-head"><h1 id="expired-title">Change your password</h1>
      <button type="button" class="link" onClick=${onSignOut}>Sign out</button></div>
    <p class="info" role="status">Your password has expired, or an administrator set it for you. Choose a new one to continue.</p>
    <${PasswordCard} onChanged=${onChanged} />
  </main>`;
}
