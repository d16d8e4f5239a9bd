import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, setUnauthorizedHandler } from './api.js';
import { Banner } from './banner.js';
import { ChatView } from './chat.js';
import { LoginView } from './login.js';
import { Logo } from './logo.js';
import { ExpiredPasswordView, SecurityView } from './security.js';

const DEFAULT_SITE = {
  name: 'Outpost', version: '', banner: { text: '', color: '' }, login_notice: '', require_consent: false,
  smart_card: false, password_login: 'all',
};
const PASSWORD_LOGIN = new Set(['all', 'unprivileged', 'none']);
const SECURITY_HASH = '#/security';
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's limit

function str(value) {
  return typeof value === 'string' ? value : '';
}

// /api/v1/site with every field present and a string, whatever the server sent.
function normalizeSite(site) {
  const banner = (site && site.banner) || {};
  return {
    name: str(site && site.name) || DEFAULT_SITE.name,
    version: str(site && site.version),
    banner: { text: str(banner.text), color: str(banner.color) },
    login_notice: str(site && site.login_notice),
    require_consent: Boolean(site && site.require_consent),
    smart_card: Boolean(site && site.smart_card),
    password_login: PASSWORD_LOGIN.has(site && site.password_login) ? site.password_login : 'all',
  };
}

function LoadingView() {
  return html`<main class="center" id="main" aria-busy="true">
    <span class="spinner spinner-large" aria-hidden="true"></span>
    <span class="sr-only" role="status">Loading</span>
  </main>`;
}

// Shown when /me neither signs us in nor says 401: the server is unreachable or failing.
function OfflineView({ status, onRetry }) {
  const buttonRef = useRef(null);
  useEffect(() => {
    buttonRef.current.focus();
  }, []);
  return html`<main class="center" id="main">
    <div class="card message-card">
      <h1>${status ? 'The server has a problem' : 'Cannot reach the server'}</h1>
      <p class="muted">${status
        ? `Outpost answered with error ${status}. Try again in a moment; if it persists, tell your administrator.`
        : 'Outpost did not answer. Check your network connection, then try again.'}</p>
      <button type="button" class="primary" ref=${buttonRef} onClick=${onRetry}>Try again</button>
    </div>
  </main>`;
}

/** The whole client: asks the server who we are, then shows the sign-in or signed-in page. */
export function App() {
  const [site, setSite] = useState(DEFAULT_SITE);
  // { view: 'loading' } | { view: 'login', notice } | { view: 'home', me } | { view: 'offline', status }
  const [state, setState] = useState({ view: 'loading' });
  // The Security page (two-factor, sessions) replaces the chat while the hash names it.
  const [security, setSecurity] = useState(location.hash === SECURITY_HASH);
  useEffect(() => {
    const onHash = () => setSecurity(location.hash === SECURITY_HASH);
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  async function start() {
    setState({ view: 'loading' });
    // Wait for both so that the banner and the page appear together, without a jump.
    const [siteResult, meResult] = await Promise.allSettled([api.site(), api.me()]);
    if (siteResult.status === 'fulfilled') setSite(normalizeSite(siteResult.value));
    if (meResult.status === 'fulfilled') setState({ view: 'home', me: meResult.value });
    else if (meResult.reason.status === 401) setState({ view: 'login' });
    else setState({ view: 'offline', status: meResult.reason.status });
  }

  useEffect(() => {
    start();
    // Any 401 means the session is gone: sign in again. Drafts stay in sessionStorage.
    setUnauthorizedHandler(() => {
      api.forget();
      setState((s) => (s.view === 'home' ? { view: 'login', notice: 'expired' } : s));
    });
  }, []);

  const chat = state.view === 'home' && !security && !state.me.password_change_required;
  useEffect(() => {
    // The chat fills the window exactly (its panes scroll); other pages scroll as a whole.
    document.getElementById('app').classList.toggle('app-chat', chat);
    if (state.view !== 'home') document.title = site.name;
  }, [site.name, state.view, chat]);

  // When the session runs out, go back to the sign-in page and say why.
  const expiresAt = state.view === 'home' ? Date.parse(state.me.session && state.me.session.expires_at) : NaN;
  useEffect(() => {
    if (Number.isNaN(expiresAt)) return undefined;
    const timer = setTimeout(() => {
      api.me().then(
        (me) => setState({ view: 'home', me }),
        (err) => {
          if (err.status === 401) setState({ view: 'login', notice: 'expired' });
        });
    }, Math.min(Math.max(expiresAt - Date.now() + 1000, 0), MAX_TIMER_MS));
    return () => clearTimeout(timer);
  }, [expiresAt]);

  async function signOut() {
    try {
      await api.logout();
    } catch (err) {
      if (err.status !== 401) throw err; // 401: the session had already ended
      api.forget();
    }
    setState({ view: 'login', notice: 'signed-out' });
  }

  let page;
  switch (state.view) {
    case 'home':
      page = state.me.password_change_required
        ? html`
          <header class="topbar topbar-plain">
            <div class="brand"><${Logo} size=${28} /><span>${site.name}</span></div>
          </header>
          <${ExpiredPasswordView} onSignOut=${signOut}
            onChanged=${() => api.me().then((me) => setState({ view: 'home', me }), start)} />`
        : security
        ? html`
          <header class="topbar topbar-plain">
            <div class="brand"><${Logo} size=${28} /><span>${site.name}</span></div>
          </header>
          <${SecurityView} onBack=${() => { location.hash = '#/'; }}
            onSignedOut=${() => { api.forget(); setState({ view: 'login', notice: 'signed-out' }); }} />`
        : html`<${ChatView} site=${site} me=${state.me} onSignOut=${signOut} />`;
      break;
    case 'login':
      page = html`
        <header class="topbar topbar-plain">
          <div class="brand"><${Logo} size=${28} /><span>${site.name}</span></div>
        </header>
        <${LoginView} site=${site} notice=${state.notice}
          onSignedIn=${(me) => setState({ view: 'home', me })} />`;
      break;
    case 'offline':
      page = html`<${OfflineView} status=${state.status} onRetry=${start} />`;
      break;
    default:
      page = html`<${LoadingView} />`;
  }

  return html`
    <${Banner} banner=${site.banner} position="top" />
    <div class="page ${chat ? 'page-chat' : ''}">
      ${page}
      ${state.view !== 'loading' && state.view !== 'home' && html`
        <footer class="footer">${site.name}${site.version && ` ${site.version}`}</footer>`}
    </div>
    <${Banner} banner=${site.banner} position="bottom" />`;
}
