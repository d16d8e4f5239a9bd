import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDate, formatRelative, initials, roleName } from './format.js';
import { Logo } from './logo.js';

function DateRow({ label, iso }) {
  const when = formatDate(iso);
  const relative = formatRelative(iso);
  return html`<div class="row">
    <dt>${label}</dt>
    <dd>${when ? html`<time datetime=${iso}>${when}</time>${relative && html` <span class="muted">(${relative})</span>`}` : '—'}</dd>
  </div>`;
}

/**
 * The signed-in page: who you are and a way out. `onSignOut` returns a promise that rejects
 * with an ApiError when the server could not end the session.
 */
export function HomeView({ site, me, onSignOut }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const headingRef = useRef(null);
  const user = me.user || {};
  const session = me.session || {};
  const name = user.display_name || user.username || '';

  // Moving focus to the heading tells screen-reader users that the page changed.
  useEffect(() => {
    headingRef.current.focus();
  }, []);

  async function signOut() {
    if (busy) return;
    setBusy(true);
    setError('');
    try {
      await onSignOut();
    } catch (err) {
      setBusy(false);
      setError(err.status === 0
        ? 'Cannot reach the server, so you are still signed in. Try again.'
        : `Could not sign out: ${err.message}`);
    }
  }

  return html`
    <header class="topbar">
      <div class="brand"><${Logo} size=${28} /><span>${site.name}</span></div>
      <div class="account">
        <span class="avatar" aria-hidden="true">${initials(name)}</span>
        <span class="account-name">${name}</span>
      </div>
    </header>
    <main class="home" id="main">
      <div class="card home-card">
        <div class="home-head">
          <span class="avatar avatar-large" aria-hidden="true">${initials(name)}</span>
          <div>
            <h1 ref=${headingRef} tabindex="-1">${name}</h1>
            <p class="muted">You are signed in to ${site.name}.</p>
          </div>
        </div>
        <dl class="details">
          <div class="row"><dt>Username</dt><dd>${user.username}</dd></div>
          <div class="row"><dt>Role</dt><dd>${roleName(user.role)}</dd></div>
          <${DateRow} label="Signed in" iso=${session.created_at} />
          <${DateRow} label="Session expires" iso=${session.expires_at} />
        </dl>
        <div class="form-error" aria-live="assertive" aria-atomic="true">
          ${error && html`<p>${error}</p>`}
        </div>
        <div class="actions">
          <button type="button" class="secondary" onClick=${signOut}
            aria-disabled=${busy ? 'true' : undefined}>
            ${busy && html`<span class="spinner" aria-hidden="true"></span>`}
            ${busy ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </div>
    </main>`;
}
