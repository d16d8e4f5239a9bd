// What the end-to-end suites share: where the binary, Chromium and the artifacts are, a free
// loopback port, a server process waited on until ready, the browser, axe-core and screenshots.
// Not a test file itself (node --test runs only *.test.mjs here).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const require = createRequire(path.join(ROOT, 'assets', 'package.json'));
const { chromium } = require('playwright-core');
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const BINARY = process.env.OUTPOST_BINARY ? path.resolve(process.env.OUTPOST_BINARY) : '';
const CHROMIUM = process.env.OUTPOST_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(process.env.OUTPOST_E2E_ARTIFACTS || path.join(ROOT, 'build', 'e2e-artifacts'));
export const POLL = 8000; // live updates arrive at once over the socket; allow for a slow machine

/** The reason to skip a suite here, or false. */
export const skip = !BINARY ? 'OUTPOST_BINARY is not set' : !fs.existsSync(CHROMIUM) ? `no chromium at ${CHROMIUM}` : false;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** `outpost serve` with `args`; its output is kept in `log` for the error of a failed start. */
export class Server {
  constructor(args, base) {
    this.args = args;
    this.base = base;
    this.log = [];
    this.proc = null;
  }

  async start() {
    this.proc = spawn(BINARY, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (b) => this.log.push(String(b)));
    this.proc.stderr.on('data', (b) => this.log.push(String(b)));
    const end = Date.now() + 20000;
    while (Date.now() < end) {
      const ok = await new Promise((resolve) => {
        const req = https.get(this.base + '/readyz', { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
      });
      if (ok) return;
      if (this.proc.exitCode !== null) throw new Error(`server exited: ${this.log.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server not ready: ${this.log.join('')}`);
  }

  async kill() {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    await new Promise((r) => {
      const t = setTimeout(() => { this.proc.kill('SIGKILL'); r(); }, 5000);
      this.proc.on('exit', () => { clearTimeout(t); r(); });
      this.proc.kill('SIGTERM');
    });
  }
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      // OUTPOST_E2E_DIST serves the page from the test, not from 127.0.0.1, so Chromium would
      // treat the socket to 127.0.0.1 as a public page reaching into the local network.
      '--disable-features=LocalNetworkAccessChecks'],
  });
}

/** A JSON API call from inside the page, with its session cookie and CSRF token. */
export async function apiCall(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const me = await (await fetch('/api/v1/me')).json();
    const res = await fetch(u, { method: m, body: b === undefined ? undefined : JSON.stringify(b),
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token } });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  }, [method, url, body]);
}

/** Runs axe-core on the page; fails on a serious or critical violation, keeps all in ARTIFACTS. */
export async function axe(page, name) {
  await page.addScriptTag({ content: AXE_SOURCE }).catch(async () => {
    // The CSP forbids inline scripts: evaluate instead (page.evaluate is not subject to it).
    await page.evaluate(AXE_SOURCE);
  });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  fs.writeFileSync(path.join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(result, null, 2));
  assert.deepEqual(bad, [], `axe (${name}): ${JSON.stringify(bad, null, 1)}`);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}
