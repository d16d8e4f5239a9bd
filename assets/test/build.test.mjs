// Runs build.mjs into a temporary folder and checks what it produced.
//   node --test test/
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// XML namespace names are identifiers that browsers never fetch; preact needs the SVG and
// MathML ones, and a standalone SVG file must declare its namespace.
const XML_NAMESPACES = new Set([
  'http://www.w3.org/2000/svg',
  'http://www.w3.org/1999/xhtml',
  'http://www.w3.org/1998/Math/MathML',
  'http://www.w3.org/1999/xlink',
  // Not references either: marked prefixes "www." autolinks with the bare scheme, and names
  // its issue tracker in an error message's text.
  'http://',
  'https://github.com/markedjs/marked.',
]);

function runBuild(buildScript, out) {
  return spawnSync(process.execPath, [buildScript, '--out', out], {
    cwd: path.dirname(buildScript),
    encoding: 'utf8',
  });
}

// The bytes of a C++ literal as build.mjs writes them: adjacent "..." pieces with \n, \",
// \\, \? and three-digit octal escapes.
function unescapeCpp(pieces) {
  const bytes = [];
  for (const piece of pieces) {
    for (let i = 0; i < piece.length; i++) {
      const c = piece[i];
      if (c !== '\\') {
        bytes.push(c.charCodeAt(0));
        continue;
      }
      const next = piece[++i];
      if (next === 'n') bytes.push(0x0a);
      else if (next === '"' || next === '\\' || next === '?') bytes.push(next.charCodeAt(0));
      else if (/[0-7]/.test(next)) {
        bytes.push(parseInt(piece.slice(i, i + 3), 8));
        i += 2;
      } else throw new Error(`unexpected escape \\${next}`);
    }
  }
  return Buffer.from(bytes);
}

// { path -> { contentType, etag, immutable, identity, gzip, brotli } } from assets_data.cc.
function parseAssetsCc(source) {
  const arrays = new Map();
  for (const m of source.matchAll(/constexpr char (\w+)\[\] =\n((?: {4}".*"\n?)+);/g)) {
    const pieces = [...m[2].matchAll(/^ {4}"(.*)"$/gm)].map((p) => p[1]);
    arrays.set(m[1], unescapeCpp(pieces));
  }
  const view = (text) => {
    if (text === '{}') return null;
    const [, name, size] = text.match(/^\{(\w+), (\d+)\}$/);
    assert.equal(arrays.get(name).length, Number(size), `${name} size`);
    return arrays.get(name);
  };
  const assets = new Map();
  const row = /\{"([^"]+)", "([^"]+)", "\\"([0-9a-f]+)\\"", (true|false),\n\s+(\{\}|\{\w+, \d+\}), (\{\}|\{\w+, \d+\}), (\{\}|\{\w+, \d+\})\},/g;
  for (const m of source.matchAll(row)) {
    assets.set(m[1], {
      contentType: m[2], etag: m[3], immutable: m[4] === 'true',
      identity: view(m[5]), gzip: view(m[6]), brotli: view(m[7]),
    });
  }
  return assets;
}

describe('build.mjs', () => {
  let tmp;
  let out;
  let result;
  let index;
  let dist;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-assets-'));
    out = path.join(tmp, 'out');
    result = runBuild(path.join(ASSETS, 'build.mjs'), out);
    dist = path.join(out, 'dist');
    if (result.status === 0) index = fs.readFileSync(path.join(dist, 'index.html'), 'utf8');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('succeeds and writes assets_data.cc, dist/ and manifest.json', () => {
    assert.equal(result.status, 0, result.stderr);
    for (const f of ['assets_data.cc', 'manifest.json', 'dist/index.html']) {
      assert.ok(fs.existsSync(path.join(out, f)), f);
    }
  });

  test('index.html has no inline script, style or event handler', () => {
    const scripts = [...index.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length >= 1, 'a script tag');
    for (const [, attrs, body] of scripts) {
      assert.equal(body.trim(), '', 'script body must be empty');
      assert.match(attrs, /\ssrc="\/[^"]+"/);
    }
    assert.doesNotMatch(index, /\sstyle\s*=/i);
    assert.doesNotMatch(index, /<style/i);
    assert.doesNotMatch(index, /\son[a-z]+\s*=/i);
    assert.doesNotMatch(index, /javascript:/i);
  });

  test('no file refers to a remote origin', () => {
    for (const name of fs.readdirSync(dist)) {
      // The licence texts cite their own web pages; text/plain is never parsed as markup.
      if (name === 'licenses.txt') continue;
      const text = fs.readFileSync(path.join(dist, name), 'latin1');
      const urls = text.match(/https?:\/\/[^\s"'`)<>]*/gi) || [];
      for (const url of urls) assert.ok(XML_NAMESPACES.has(url), `${name} refers to ${url}`);
      assert.doesNotMatch(text, /(?:src|href)\s*=\s*["']?\/\//i, `${name}: protocol-relative URL`);
      assert.doesNotMatch(text, /@import|url\(\s*["']?(?:https?:)?\/\//i, `${name}: remote CSS`);
    }
  });

  test('every file but index.html and licenses.txt carries a content hash', () => {
    const names = fs.readdirSync(dist).sort();
    const hashed = names.filter((n) => !['index.html', 'licenses.txt'].includes(n));
    assert.ok(hashed.some((n) => /^app-[A-Z0-9]{8}\.js$/.test(n)), names.join(' '));
    assert.ok(hashed.some((n) => /^app-[A-Z0-9]{8}\.css$/.test(n)), names.join(' '));
    for (const n of hashed) assert.match(n, /^[a-z]+-[A-Z0-9]{8}\.[a-z0-9]+$/);
    const referenced = [...index.matchAll(/\s(?:src|href)="\/([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(referenced.slice().sort(), hashed);
  });

  test('assets_data.cc holds every file, and its gzip and brotli decompress to the identity', () => {
    const assets = parseAssetsCc(fs.readFileSync(path.join(out, 'assets_data.cc'), 'utf8'));
    const names = fs.readdirSync(dist).sort();
    assert.deepEqual([...assets.keys()].sort(), names.map((n) => '/' + n));
    let compressed = 0;
    for (const [p, a] of assets) {
      const plain = fs.readFileSync(path.join(dist, p.slice(1)));
      assert.ok(a.identity.equals(plain), `${p} identity`);
      assert.equal(a.immutable, !['/index.html', '/licenses.txt'].includes(p), `${p} immutable`);
      assert.match(a.etag, /^[0-9a-f]{16}$/);
      if (p.endsWith('.html') || p.endsWith('.js') || p.endsWith('.css')) {
        assert.match(a.contentType, /; charset=utf-8$/);
      }
      if (a.gzip) {
        compressed++;
        assert.ok(a.gzip.length < plain.length, `${p} gzip smaller`);
        assert.ok(zlib.gunzipSync(a.gzip).equals(plain), `${p} gzip round trip`);
      }
      if (a.brotli) {
        compressed++;
        assert.ok(a.brotli.length < plain.length, `${p} brotli smaller`);
        assert.ok(zlib.brotliDecompressSync(a.brotli).equals(plain), `${p} brotli round trip`);
      }
    }
    assert.ok(compressed >= 4, 'the script and stylesheet are precompressed both ways');
  });

  // Issue #5's target is 200 KB compressed; this budget catches a regression (a new dependency
  // pulled in whole) long before that.
  test('manifest.json lists every file and a first load under 64 KB compressed', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.files.length, fs.readdirSync(dist).length);
    for (const f of manifest.files) {
      assert.equal(f.raw, fs.statSync(path.join(dist, f.path.slice(1))).size, f.path);
    }
    assert.ok(manifest.first_load.files.includes('/index.html'));
    assert.ok(manifest.first_load.gzip < 64 * 1024, `first load ${manifest.first_load.gzip} B gzip`);
    assert.ok(manifest.first_load.br <= manifest.first_load.gzip);
  });

  test('an unchanged rebuild leaves assets_data.cc untouched', () => {
    const cc = path.join(out, 'assets_data.cc');
    const before = fs.readFileSync(cc, 'utf8');
    fs.utimesSync(cc, new Date(1e12), new Date(1e12));
    const again = runBuild(path.join(ASSETS, 'build.mjs'), out);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(fs.statSync(cc).mtimeMs, 1e12, 'assets_data.cc was rewritten');
    assert.equal(fs.readFileSync(cc, 'utf8'), before);
    assert.match(again.stdout, /assets_data\.cc unchanged/);
  });

  test('a syntax error fails the build with the file and line', () => {
    // A copy of the client beside the real node_modules, with one broken source file.
    const copy = path.join(tmp, 'broken');
    fs.cpSync(path.join(ASSETS, 'src'), path.join(copy, 'src'), { recursive: true });
    for (const f of ['build.mjs', 'cpp-literal.mjs']) fs.copyFileSync(path.join(ASSETS, f), path.join(copy, f));
    fs.symlinkSync(path.join(ASSETS, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
    fs.appendFileSync(path.join(copy, 'src', 'format.js'), '\nexport const broken = ;\n');
    const broken = runBuild(path.join(copy, 'build.mjs'), path.join(tmp, 'broken-out'));
    assert.notEqual(broken.status, 0);
    assert.match(broken.stderr, /esbuild failed/);
    assert.match(broken.stderr, /src\/format\.js:\d+:\d+/);
    assert.ok(!fs.existsSync(path.join(tmp, 'broken-out', 'assets_data.cc')));
  });
});
