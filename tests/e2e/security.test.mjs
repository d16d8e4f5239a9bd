// End-to-end tests of the web client's security pages against a server with the stig password
// profile and smart-card login turned on:
//   - the sign-in page offers "Sign in with smart card"; a browser presenting a bound card
//     signs in with no password, one without a card is told why;
//   - a password an administrator reset is temporary: the page shows only "Change your
//     password" until the owner picks a new one;
//   - the Security page: two-factor set up with a real TOTP code, sign-in with a recovery
//     code, the minimum password age refused in the server's words, and the other session
//     revoked from the list.
// The card's PKI (a CA and a client certificate with an email subjectAltName) is made here
// with the openssl command; Playwright presents the certificate in the TLS handshake.
//
//   OUTPOST_BINARY=build/outpost node --test tests/e2e/
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, BINARY, POLL, Server, apiCall, axe, freePort, launchBrowser, shot, skip } from './harness.mjs';

// Meets the stig composition rules: upper, lower, digit and special character.
const PASSWORD = 'Correct-Horse-Battery-42!';
const TEMPORARY = 'Temporary-Passphrase-77!';
const CHOSEN = 'Chosen-Passphrase-2027#';

let dir;
let server;
let base;
let browser;
let cardFiles;

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

// A CA and carol's card: EC P-256, the certificate naming her by email in the subjectAltName
// and allowed for client authentication.
function makePki() {
  fs.writeFileSync(path.join(dir, 'ca.ext'),
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  fs.writeFileSync(path.join(dir, 'card.ext'),
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' +
    'subjectAltName=email:carol@example.test\nauthorityKeyIdentifier=keyid\n');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key');
  openssl('req', '-new', '-key', 'ca.key', '-subj', '/O=Outpost Test/CN=Test Card CA', '-out', 'ca.csr');
  openssl('x509', '-req', '-in', 'ca.csr', '-signkey', 'ca.key', '-days', '30', '-extfile', 'ca.ext', '-out', 'ca.pem');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'card.key');
  openssl('req', '-new', '-key', 'card.key', '-subj', '/O=Outpost Test/CN=CAROL', '-out', 'card.csr');
  openssl('x509', '-req', '-in', 'card.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '30', '-extfile', 'card.ext', '-out', 'card.pem');
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'card.pem'), key: path.join(dir, 'card.key') };
}

// RFC 6238 with SHA-1, 6 digits, 30-second steps, from the base32 secret the page shows.
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

async function page({ card = false } = {}) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    clientCertificates: card ? [{ origin: base, certPath: cardFiles.cert, keyPath: cardFiles.key }] : [],
  });
  const p = await ctx.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.errors = errors;
  await p.goto(base + '/');
  await p.waitForSelector('.login-card');
  return p;
}

async function signIn(p, name, password) {
  await p.fill('#username', name);
  await p.fill('#password', password);
  await p.click('button[type=submit]');
}

before(async () => {
  if (skip) return;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-e2e-security-'));
  cardFiles = makePki();
  const pw = path.join(dir, 'pw');
  fs.writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
  const data = path.join(dir, 'data');
  const config = path.join(dir, 'outpost.toml');
  fs.writeFileSync(config, `[auth]\npassword_profile = "stig"\n\n[tls]\nclient_auth = "optional"\n` +
    `client_ca_file = "${cardFiles.ca}"\nmap_by = "email"\n`);
  const cli = (...args) => execFileSync(BINARY, ['--config', config, '--data', data, ...args], { stdio: 'pipe' });
  cli('init', '--admin', 'alice', '--display-name', 'Alice', '--password-file', pw,
    '--host', 'localhost', '--host', '127.0.0.1');
  cli('user', 'add', 'carol', '--display-name', 'Carol', '--password-file', pw);
  cli('user', 'add', 'dave', '--display-name', 'Dave', '--password-file', pw);
  cli('user', 'cert-bind', 'carol', '--email', 'carol@example.test');
  const port = await freePort();
  base = `https://127.0.0.1:${port}`;
  server = new Server(['serve', '--config', config, '--data', data, '--listen', `127.0.0.1:${port}`], base);
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('smart card, temporary password and the Security page', { skip, timeout: 240000 }, async (t) => {
  const pages = [];

  await t.test('a bound card signs in with no password', async () => {
    const p = await page({ card: true });
    pages.push(p);
    const button = p.locator('button:has-text("Sign in with smart card")');
    await button.waitFor();
    await axe(p, 'login-smart-card');
    await shot(p, 'login-smart-card');
    await button.click();
    await p.waitForSelector('.sidebar .room-link', { timeout: POLL });
    const me = await apiCall(p, 'GET', '/api/v1/me');
    assert.equal(me.body.user.username, 'carol');
  });

  await t.test('a browser without a card is told why, and the password still works', async () => {
    const p = await page();
    pages.push(p);
    await p.click('button:has-text("Sign in with smart card")');
    await p.locator('.form-error p').waitFor();
    assert.match(await p.locator('.form-error p').textContent(), /Smart-card sign-in refused: no client certificate/);
    await signIn(p, 'alice', PASSWORD);
    await p.waitForSelector('.sidebar .room-link');
  });

  let dave;
  await t.test('a reset password is temporary: only "Change your password" until it is changed', async () => {
    const admin = pages[1];
    const reset = await apiCall(admin, 'POST', '/api/v1/users/dave/password', { password: TEMPORARY });
    assert.equal(reset.status, 204);
    dave = await page();
    pages.push(dave);
    await signIn(dave, 'dave', TEMPORARY);
    await dave.waitForSelector('h1:has-text("Change your password")');
    assert.equal(await dave.locator('.sidebar').count(), 0);
    await axe(dave, 'password-change-required');
    await shot(dave, 'password-change-required');
    await dave.fill('#sec-current', TEMPORARY);
    await dave.fill('#sec-new', 'too simple but long enough');
    await dave.fill('#sec-again', 'too simple but long enough');
    await dave.click('button:has-text("Change password")');
    await dave.locator('.form-error p').waitFor();
    assert.match(await dave.locator('.form-error p').textContent(), /upper-case/);
    await dave.fill('#sec-new', CHOSEN);
    await dave.fill('#sec-again', CHOSEN);
    await dave.click('button:has-text("Change password")');
    await dave.waitForSelector('.sidebar .room-link', { timeout: POLL });
  });

  await t.test('Security page: two-factor with a real code, recovery code sign-in, sessions', async () => {
    // A second browser of dave's, to be revoked from the first.
    const other = await page();
    pages.push(other);
    await signIn(other, 'dave', CHOSEN);
    await other.waitForSelector('.sidebar .room-link');

    await dave.click('a:has-text("Security")');
    await dave.waitForSelector('h1:has-text("Security")');
    // The stig minimum age: the page shows the server's refusal.
    await dave.fill('#sec-current', CHOSEN);
    await dave.fill('#sec-new', 'Another-Passphrase-2028$');
    await dave.fill('#sec-again', 'Another-Passphrase-2028$');
    await dave.click('button:has-text("Change password")');
    await dave.locator('.form-error p').first().waitFor();
    assert.match(await dave.locator('.form-error p').first().textContent(), /less than 1 day/);

    await dave.click('button:has-text("Set up two-factor authentication")');
    const secret = await dave.locator('#totp-secret').inputValue();
    assert.match(secret, /^[A-Z2-7]{16,}$/);
    await dave.fill('#sec-code', totp(secret));
    await dave.click('button:has-text("Turn on")');
    const codes = dave.locator('pre.recovery-codes');
    await codes.waitFor();
    const recovery = (await codes.textContent()).split('\n').filter(Boolean);
    assert.equal(recovery.length, 10);
    await dave.waitForSelector('text=/^On since/');
    await axe(dave, 'security');
    await shot(dave, 'security');

    const rows = dave.locator('section[aria-labelledby="sec-sessions"] tbody tr');
    assert.equal(await rows.count(), 2);
    await rows.filter({ hasNotText: 'this browser' }).locator('button:has-text("Revoke")').click();
    await other.waitForSelector('#username', { timeout: POLL });
    await dave.waitForFunction(() => document.querySelectorAll('section[aria-labelledby="sec-sessions"] tbody tr').length === 1);

    // Signing in again now takes a second step; a recovery code passes it once.
    await signIn(other, 'dave', CHOSEN);
    const code = other.locator('input[autocomplete="one-time-code"]');
    await code.waitFor();
    await other.click('button:has-text("recovery code")');
    await other.fill('input[autocomplete="one-time-code"]', recovery[0]);
    await other.click('button[type=submit]');
    await other.waitForSelector('.sidebar .room-link', { timeout: POLL });
  });

  for (const p of pages) assert.deepEqual(p.errors, [], 'page errors');
});
