import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { formatWait } from './format.js';

const NOTICES = {
  'signed-out': 'You have signed out.',
  expired: 'Your session has ended. Sign in again to continue.',
};

function loginErrorMessage(err) {
  switch (err.status) {
    case 0:
      return 'Cannot reach the server. Check your network connection, then try again.';
    case 401:
      return 'Wrong username or password.';
    case 403:
      return 'This account is disabled. Contact your administrator.';
    case 429:
      return err.retryAfter > 0
        ? `Too many sign-in attempts. Wait ${formatWait(err.retryAfter)}, then try again.`
        : 'Too many sign-in attempts. Wait a few minutes, then try again.';
    default:
      return err.status >= 500
        ? `The server could not sign you in (error ${err.status}). Try again later.`
        : err.message;
  }
}

/**
 * The sign-in page. Calls onSignedIn(me) with the /auth/login response; the page then goes away.
 * `notice` is a key of NOTICES (why the user is here), or undefined.
 */
export function LoginView({ site, notice, onSignedIn }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [showPassword, setShowPassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null); // { message, field: 'username' | 'password' | null }
  const usernameRef = useRef(null);
  const passwordRef = useRef(null);

  useEffect(() => {
    usernameRef.current.focus();
    // Time to interactive of a first visit: the form is on screen and takes input.
    if (!performance.getEntriesByName('outpost:interactive').length) performance.mark('outpost:interactive');
  }, []);

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    const name = username.trim();
    if (!name || !password) {
      const field = name ? 'password' : 'username';
      setError({ message: name ? 'Enter your password.' : 'Enter your username.', field });
      (name ? passwordRef : usernameRef).current.focus();
      return;
    }
    setError(null); // empties the live region so that a repeated message is announced again
    setBusy(true);
    let me;
    try {
      me = await api.login(name, password);
    } catch (err) {
      setBusy(false);
      const wrong = err.status === 401;
      setError({ message: loginErrorMessage(err), field: wrong ? 'password' : null });
      if (wrong) {
        setPassword('');
        passwordRef.current.focus();
      }
      return;
    }
    onSignedIn(me);
  }

  const invalid = (field) => (error && error.field === field ? 'true' : undefined);
  const describedBy = (field) => (error && error.field === field ? 'login-error' : undefined);

  return html`
    <main class="login" id="main">
      <div class="login-intro">
        <h1 class="login-title">Sign in to ${site.name}</h1>
        <p class="login-lead">Secure team chat for this site. Your messages stay on this network.</p>
      </div>
      <div class="card login-card">
        ${site.login_notice && html`
          <section class="login-notice" aria-label="Notice" tabindex="0">${site.login_notice}</section>`}
        ${notice && NOTICES[notice] && html`<p class="info" role="status">${NOTICES[notice]}</p>`}
        <form method="post" novalidate onSubmit=${submit} aria-busy=${busy ? 'true' : 'false'}>
          <div class="field">
            <label for="username">Username</label>
            <input id="username" name="username" type="text" ref=${usernameRef}
              autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false"
              required readOnly=${busy} value=${username}
              aria-invalid=${invalid('username')} aria-describedby=${describedBy('username')}
              onInput=${(e) => setUsername(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="password">Password</label>
            <div class="password">
              <input id="password" name="password" type=${showPassword ? 'text' : 'password'}
                ref=${passwordRef} autocomplete="current-password" required readOnly=${busy}
                value=${password} aria-invalid=${invalid('password')}
                aria-describedby=${describedBy('password')}
                onInput=${(e) => setPassword(e.currentTarget.value)} />
              <button type="button" class="reveal" aria-controls="password"
                aria-pressed=${showPassword ? 'true' : 'false'}
                onClick=${() => setShowPassword(!showPassword)}>
                ${showPassword ? 'Hide' : 'Show'}<span class="sr-only"> password</span>
              </button>
            </div>
          </div>
          <div id="login-error" class="form-error" aria-live="assertive" aria-atomic="true">
            ${error && html`<p>${error.message}</p>`}
          </div>
          <button type="submit" class="primary wide" aria-disabled=${busy ? 'true' : undefined}>
            ${busy && html`<span class="spinner" aria-hidden="true"></span>`}
            ${busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>`;
}
