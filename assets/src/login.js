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
      if (err.code === 'consent_required') return 'Read the notice and tick “I understand and consent” first.';
      return err.message && err.code !== 'failed_precondition'
        ? err.message
        : 'This account is disabled. Contact your administrator.';
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

// A refused card says why in the server's words (expired, revoked, not bound to an account...).
function cardErrorMessage(err) {
  if (err.code === 'certificate_refused') return `Smart-card sign-in refused: ${err.message}.`;
  return loginErrorMessage(err);
}

function codeErrorMessage(err, recovery) {
  if (err.status === 401 && /sign in again/.test(err.message)) return err.message;
  if (err.status === 401) return recovery ? 'That recovery code is wrong or was already used.' : 'Wrong or already used code. Wait for the next one, then try again.';
  return loginErrorMessage(err);
}

/** The recovery codes, shown once, with a way to copy them. */
export function RecoveryCodes({ codes }) {
  return html`
    <div class="info" role="status">
      <p><strong>Save these recovery codes now.</strong> Each signs you in once if you lose your
        authenticator. They will not be shown again.</p>
      <pre class="recovery-codes" tabindex="0" aria-label="Recovery codes">${codes.join('\n')}</pre>
      ${navigator.clipboard && html`<button type="button" class="secondary"
        onClick=${() => navigator.clipboard.writeText(codes.join('\n'))}>Copy codes</button>`}
    </div>`;
}

/** The secret of a new enrolment: the otpauth:// URI and the base32 key, as text. */
export function EnrolmentSecret({ enrolment }) {
  return html`
    <div class="field">
      <p>Add this account to your authenticator app (TOTP, 6 digits, 30 seconds): enter the key
        by hand, or paste the otpauth link into an app that accepts one.</p>
      <label for="totp-secret">Key</label>
      <input id="totp-secret" type="text" readOnly value=${enrolment.secret}
        onFocus=${(e) => e.currentTarget.select()} />
      <label for="totp-uri">otpauth link</label>
      <input id="totp-uri" type="text" readOnly value=${enrolment.otpauth_uri}
        onFocus=${(e) => e.currentTarget.select()} />
    </div>`;
}

// Step two: a code from the app or a recovery code (step = 'totp'), or a first enrolment
// (step = 'enrol') ending with the recovery codes.
function SecondFactor({ step, pending, onSignedIn, onRestart }) {
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(false);
  const [enrolment, setEnrolment] = useState(null);
  const [done, setDone] = useState(null); // the account, once enrolment handed out codes
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const codeRef = useRef(null);

  useEffect(() => {
    if (step !== 'enrol') return;
    api.loginEnrol(pending).then(setEnrolment, (err) => setError(codeErrorMessage(err, false)));
  }, [step, pending]);
  useEffect(() => {
    if (codeRef.current) codeRef.current.focus();
  }, [recovery, enrolment]);

  async function submit(event) {
    event.preventDefault();
    if (busy) return;
    const value = code.trim();
    if (!value) {
      setError(recovery ? 'Enter a recovery code.' : 'Enter the 6-digit code from your app.');
      return;
    }
    setError(null);
    setBusy(true);
    try {
      if (step === 'enrol') {
        const me = await api.loginEnrolConfirm(pending, value);
        setBusy(false);
        setDone(me);
        return;
      }
      const me = await api.loginTotp(pending, value, recovery);
      onSignedIn(me);
    } catch (err) {
      setBusy(false);
      setCode('');
      setError(codeErrorMessage(err, recovery));
      if (codeRef.current) codeRef.current.focus();
    }
  }

  if (done) {
    return html`
      <${RecoveryCodes} codes=${done.recovery_codes || []} />
      <button type="button" class="primary wide" onClick=${() => onSignedIn(done)}>I saved them, continue</button>`;
  }
  return html`
    <form method="post" novalidate onSubmit=${submit} aria-busy=${busy ? 'true' : 'false'}>
      ${step === 'enrol'
        ? html`<p><strong>Two-factor authentication is required for your account.</strong> Set it up to continue.</p>
            ${enrolment && html`<${EnrolmentSecret} enrolment=${enrolment} />`}`
        : html`<p>${recovery ? 'Enter one of your recovery codes.' : 'Enter the 6-digit code from your authenticator app.'}</p>`}
      <div class="field">
        <label for="code">${recovery ? 'Recovery code' : 'Code'}</label>
        <input id="code" name="code" type="text" ref=${codeRef} value=${code} readOnly=${busy}
          autocomplete="one-time-code" inputmode=${recovery ? 'text' : 'numeric'} spellcheck="false"
          aria-describedby=${error ? 'code-error' : undefined} aria-invalid=${error ? 'true' : undefined}
          onInput=${(e) => setCode(e.currentTarget.value)} />
      </div>
      <div id="code-error" class="form-error" aria-live="assertive" aria-atomic="true">
        ${error && html`<p>${error}</p>`}
      </div>
      <button type="submit" class="primary wide" aria-disabled=${busy ? 'true' : undefined}>
        ${busy && html`<span class="spinner" aria-hidden="true"></span>`}
        ${busy ? 'Checking…' : step === 'enrol' ? 'Turn on and sign in' : 'Sign in'}
      </button>
      ${step === 'totp' && html`<button type="button" class="link" onClick=${() => { setRecovery(!recovery); setCode(''); setError(null); }}>
        ${recovery ? 'Use a code from the app' : 'Use a recovery code'}</button>`}
      <button type="button" class="link" onClick=${onRestart}>Start over</button>
    </form>`;
}

/**
 * The sign-in page. Calls onSignedIn(me) with the account once every step is done; the page
 * then goes away. `notice` is a key of NOTICES (why the user is here), or undefined.
 */
export function LoginView({ site, notice, onSignedIn }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [showPassword, setShowPassword] = useState(false);
  const [consent, setConsent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null); // { message, field: 'username' | 'password' | 'consent' | null }
  const [second, setSecond] = useState(null); // { step: 'totp' | 'enrol', pending }
  const usernameRef = useRef(null);
  const passwordRef = useRef(null);
  const consentRef = useRef(null);
  const cardRef = useRef(null);
  const hasNotice = Boolean(site.login_notice);
  // [auth] password_login = none: the card is the only way in, so the form is not shown.
  const passwordForm = !site.smart_card || site.password_login !== 'none';

  useEffect(() => {
    (hasNotice && !consent ? consentRef : passwordForm ? usernameRef : cardRef).current.focus();
    // Time to interactive of a first visit: the form is on screen and takes input.
    if (!performance.getEntriesByName('outpost:interactive').length) performance.mark('outpost:interactive');
  }, []);

  // False (with the error shown) while the notice is not yet accepted.
  function consented() {
    if (!hasNotice || consent) return true;
    setError({ message: 'Read the notice and tick “I understand and consent” to continue.', field: 'consent' });
    consentRef.current.focus();
    return false;
  }

  // The browser sends the card's certificate in the TLS handshake; the server maps it to an
  // account. No second factor follows: the card and its PIN are two already.
  async function cardSignIn() {
    if (busy || !consented()) return;
    setError(null);
    setBusy(true);
    let me;
    try {
      me = await api.loginCertificate(hasNotice && consent);
    } catch (err) {
      setBusy(false);
      setError({ message: cardErrorMessage(err), field: null });
      return;
    }
    setBusy(false);
    onSignedIn(me);
  }

  async function submit(event) {
    event.preventDefault();
    if (busy || !consented()) return;
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
      me = await api.login(name, password, hasNotice && consent);
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
    setPassword('');
    setBusy(false);
    if (me && me.second_factor) {
      setSecond({ step: me.second_factor, pending: me.pending });
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
        ${notice && NOTICES[notice] && !second && html`<p class="info" role="status">${NOTICES[notice]}</p>`}
        ${second
          ? html`<${SecondFactor} step=${second.step} pending=${second.pending} onSignedIn=${onSignedIn}
              onRestart=${() => { setSecond(null); setError(null); }} />`
          : html`
        ${hasNotice && html`
          <section class="login-notice" aria-label="Notice" tabindex="0">${site.login_notice}</section>
          <div class="field">
            <label>
              <input type="checkbox" ref=${consentRef} checked=${consent}
                aria-invalid=${invalid('consent')} aria-describedby=${describedBy('consent')}
                onChange=${(e) => { setConsent(e.currentTarget.checked); setError(null); }} />
              ${' '}I understand and consent
            </label>
          </div>`}
        ${site.smart_card && html`
          <button type="button" class="${passwordForm ? 'secondary' : 'primary'} wide" ref=${cardRef}
            aria-disabled=${busy ? 'true' : undefined} onClick=${cardSignIn}>Sign in with smart card</button>
          ${passwordForm ? html`<p class="login-or" aria-hidden="true">or with a password</p>` : html`
            <div id="login-error" class="form-error" aria-live="assertive" aria-atomic="true">
              ${error && html`<p>${error.message}</p>`}
            </div>`}`}
        ${passwordForm && html`<form method="post" novalidate onSubmit=${submit} aria-busy=${busy ? 'true' : 'false'}>
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
        </form>`}`}
      </div>
    </main>`;
}
