// The server's JSON API, same origin. The session cookie is HttpOnly, so the client only ever
// holds the CSRF token that /me and /auth/login return; it lives in memory, never in storage.

/** A failed API call. `status` is the HTTP status, or 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After; 0 when absent
  }
}

let csrfToken = '';
let onUnauthorized = null;

/** Called on any 401 (the session has ended) outside sign-in. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** Tells the app that the session has ended (e.g. the socket was closed and /me says 401). */
export function signalSignedOut() {
  if (onUnauthorized) onUnauthorized();
}

function remember(me) {
  csrfToken = (me && me.csrf_token) || '';
  return me;
}

function retryAfterSeconds(res) {
  const value = res.headers.get('Retry-After');
  if (!value) return 0;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const when = Date.parse(value);
  return Number.isNaN(when) ? 0 : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    // Every state-changing request is JSON and carries the token, which a cross-site form
    // cannot forge.
    headers['Content-Type'] = 'application/json';
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached.', 0);
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    // An error page from a proxy, or a cut connection: handled below by status.
  }
  if (!res.ok) {
    // Sign-in steps answer 401 for a wrong password or code: that is not a session ending.
    if (res.status === 401 && onUnauthorized && !path.includes('/auth/') && !path.endsWith('/me')) onUnauthorized();
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.code || 'http_' + res.status,
                       err.message || res.statusText || 'Request failed', retryAfterSeconds(res));
  }
  if (data === null || typeof data !== 'object') {
    throw new ApiError(res.status, 'bad_response', 'The server sent a response the client cannot read.', 0);
  }
  return data;
}

export const api = {
  site: () => request('GET', '/api/v1/site'),
  me: () => request('GET', '/api/v1/me').then(remember),
  /**
   * Step one of signing in. Answers the account (signed in), or
   * { second_factor: 'totp' | 'enrol', pending } when a second step must follow.
   * `consent` says the user accepted the login notice.
   */
  login: (username, password, consent) =>
    request('POST', '/api/v1/auth/login', consent ? { username, password, consent: true } : { username, password })
      .then(remember),
  /** Sign in with the TLS client certificate the browser presented (a smart card). */
  loginCertificate: (consent) =>
    request('POST', '/api/v1/auth/certificate', consent ? { consent: true } : {}).then(remember),
  /** Step two: a code from the authenticator app, or a recovery code. */
  loginTotp: (pending, code, recovery) =>
    request('POST', '/api/v1/auth/login/totp', recovery ? { pending, recovery_code: code } : { pending, code })
      .then(remember),
  /** Step two when two-factor is required and not set up: the secret, then the first code. */
  loginEnrol: (pending) => request('POST', '/api/v1/auth/login/enrol', { pending }),
  loginEnrolConfirm: (pending, code) =>
    request('POST', '/api/v1/auth/login/enrol/confirm', { pending, code }).then(remember),
  logout: () => request('POST', '/api/v1/auth/logout').then(() => remember(null)),
  /** Drops the token without asking the server, e.g. once it says the session is gone. */
  forget: () => remember(null),
  get: (path) => request('GET', '/api/v1' + path),
  post: (path, body) => request('POST', '/api/v1' + path, body),
  patch: (path, body) => request('PATCH', '/api/v1' + path, body),
  put: (path, body) => request('PUT', '/api/v1' + path, body),
  del: (path) => request('DELETE', '/api/v1' + path),
};
