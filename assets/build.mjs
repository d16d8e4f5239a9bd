#!/usr/bin/env node
// Builds the Outpost web client for embedding in the binary.
//
//   node build.mjs --out <dir>
//
// 1. esbuild bundles and minifies src/main.js (and the CSS it imports) into app-<hash>.js and
//    app-<hash>.css; src/favicon.svg becomes favicon-<hash>.svg; src/index.html gets their names.
// 2. Every file is precompressed: gzip -9 and brotli 11, each kept only when smaller.
// 3. <dir>/assets_data.cc defines outpost::net::EmbeddedAssets() (src/net/assets.h) over all of
//    it; it is rewritten only when its content changes, so an unchanged client costs no C++
//    rebuild. <dir>/dist/ holds the plain files and <dir>/manifest.json their sizes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { cppLiteral } from './cpp-literal.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Browsers the appliance supports (DESIGN.md: Chromium, Firefox, Edge), a few years back.
const TARGETS = ['chrome109', 'edge109', 'firefox115', 'safari16'];

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
};

// Files that carry no hash in their name: the server revalidates them with the ETag.
const UNHASHED = new Set(['index.html', 'licenses.txt']);

function fail(message) {
  process.stderr.write(`build.mjs: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  let out = '';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && i + 1 < argv.length) out = argv[++i];
    else if (argv[i].startsWith('--out=')) out = argv[i].slice('--out='.length);
    else fail(`unknown argument '${argv[i]}'\nusage: node build.mjs --out <dir>`);
  }
  if (!out) fail('missing --out <dir>\nusage: node build.mjs --out <dir>');
  return { out: path.resolve(out) };
}

// Runs esbuild in memory. Returns Map(name -> Buffer) of the bundle and the names of the
// entry outputs.
async function bundle() {
  let result;
  try {
    result = await build({
      absWorkingDir: HERE,
      entryPoints: { app: 'src/main.js', favicon: 'src/favicon.svg' },
      outdir: 'out', // never written (write: false); names the outputs
      write: false,
      bundle: true,
      minify: true,
      format: 'esm',
      target: TARGETS,
      charset: 'utf8',
      legalComments: 'none', // the licences ship in licenses.txt instead
      entryNames: '[name]-[hash]',
      assetNames: '[name]-[hash]',
      publicPath: '/',
      loader: { '.svg': 'copy', '.png': 'copy', '.woff2': 'copy' },
      define: { 'process.env.NODE_ENV': '"production"' },
      metafile: true,
      logLevel: 'silent',
    });
  } catch (err) {
    const messages = err.errors || [];
    const text = messages.length
      ? messages.map((m) => {
        const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
        return `  ${where}${m.text}`;
      }).join('\n')
      : `  ${err.message}`;
    fail(`esbuild failed:\n${text}`);
  }
  for (const w of result.warnings) {
    const where = w.location ? `${w.location.file}:${w.location.line}: ` : '';
    process.stderr.write(`build.mjs: esbuild warning: ${where}${w.text}\n`);
  }

  const outdir = path.join(HERE, 'out');
  const files = new Map();
  for (const f of result.outputFiles) files.set(path.relative(outdir, f.path), Buffer.from(f.contents));

  const entries = {};
  for (const [name, meta] of Object.entries(result.metafile.outputs)) {
    const base = path.relative('out', name);
    if (meta.entryPoint === 'src/main.js') {
      entries['app.js'] = base;
      if (meta.cssBundle) entries['app.css'] = path.relative('out', meta.cssBundle);
    } else if (meta.entryPoint === 'src/favicon.svg') {
      entries['favicon.svg'] = base;
    }
  }
  const packages = new Set();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = input.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) packages.add(m[1]);
  }
  return { files, entries, packages: [...packages].sort() };
}

// index.html from its template: {{app.js}} etc. become the hashed names.
function renderIndex(entries) {
  const template = fs.readFileSync(path.join(HERE, 'src', 'index.html'), 'utf8');
  const html = template.replace(/\{\{([\w.]+)\}\}/g, (_, key) => {
    if (!entries[key]) fail(`src/index.html: no build output for {{${key}}}`);
    return '/' + entries[key];
  });
  // The template is hand-written: whitespace between tags is all there is to minify.
  return Buffer.from(html.replace(/>\s+</g, '><').trim() + '\n');
}

// The MIT notices of the bundled packages: minified code drops them, their licences keep them.
function renderLicenses(packages) {
  const parts = [
    'Outpost includes the following third-party software from the npm registry.\n',
  ];
  for (const name of packages) {
    const dir = path.join(HERE, 'node_modules', name);
    const { version, license } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = file ? fs.readFileSync(path.join(dir, file), 'utf8').trim() : `License: ${license}`;
    parts.push(`\n${name} ${version}\n${'-'.repeat(name.length + version.length + 1)}\n${text}\n`);
  }
  return Buffer.from(parts.join(''));
}

function compress(data, contentType) {
  const text = contentType.startsWith('text/') || contentType.includes('json') || contentType.includes('svg');
  const gzip = zlib.gzipSync(data, { level: 9 });
  const brotli = zlib.brotliCompressSync(data, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_MODE]: text ? zlib.constants.BROTLI_MODE_TEXT : zlib.constants.BROTLI_MODE_GENERIC,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  return {
    gzip: gzip.length < data.length ? gzip : null,
    brotli: brotli.length < data.length ? brotli : null,
  };
}

function makeAsset(name, data) {
  const ext = path.extname(name);
  const contentType = CONTENT_TYPES[ext];
  if (!contentType) fail(`no content type for '${name}': add '${ext}' to CONTENT_TYPES`);
  const immutable = !UNHASHED.has(name);
  if (immutable && !/-[A-Z0-9]{8}\.[a-z0-9]+$/.test(name)) fail(`'${name}' should carry a content hash`);
  const sha = createHash('sha256').update(data).digest('hex');
  return {
    path: '/' + name,
    contentType,
    etag: `"${sha.slice(0, 16)}"`,
    immutable,
    identity: data,
    ...compress(data, contentType),
  };
}


function cppString(s) {
  return `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`;
}

function renderCc(assets) {
  const out = [
    '// Generated by assets/build.mjs from assets/src. Do not edit.',
    '#include "net/assets.h"',
    '',
    'namespace outpost::net {',
    'namespace {',
    '',
  ];
  const rows = [];
  assets.forEach((a, i) => {
    const view = (kind, data) => {
      if (!data) return '{}';
      out.push(`// ${a.path} (${kind}, ${data.length} bytes)`);
      out.push(`constexpr char kAsset${i}${kind}[] =\n${cppLiteral(data)};`);
      out.push('');
      return `{kAsset${i}${kind}, ${data.length}}`;
    };
    const identity = view('Identity', a.identity);
    const gzip = view('Gzip', a.gzip);
    const brotli = view('Brotli', a.brotli);
    rows.push(`    {${cppString(a.path)}, ${cppString(a.contentType)}, ${cppString(a.etag)}, ` +
              `${a.immutable},\n     ${identity}, ${gzip}, ${brotli}},`);
  });
  out.push(`constexpr EmbeddedAsset kAssets[] = {\n${rows.join('\n')}\n};`);
  out.push('', '}  // namespace', '');
  out.push('std::span<const EmbeddedAsset> EmbeddedAssets() { return kAssets; }', '');
  out.push('}  // namespace outpost::net', '');
  return out.join('\n');
}

function writeIfChanged(file, content) {
  try {
    if (fs.readFileSync(file, 'utf8') === content) return false;
  } catch {
    // missing: write it
  }
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
  return true;
}

async function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const { files, entries, packages } = await bundle();
  files.set('index.html', renderIndex(entries));
  // The server embeds the common-passwords list of this package (breached-passwords.mjs), so
  // its notice ships with the others.
  files.set('licenses.txt', renderLicenses([...packages, '@zxcvbn-ts/language-common']));

  const names = [...files.keys()].sort();
  const assets = names.map((name) => makeAsset(name, files.get(name)));

  fs.mkdirSync(out, { recursive: true });
  const dist = path.join(out, 'dist');
  fs.rmSync(dist, { recursive: true, force: true });
  fs.mkdirSync(dist);
  for (const name of names) fs.writeFileSync(path.join(dist, name), files.get(name));

  const size = (b) => (b ? b.length : null);
  const firstLoad = ['index.html', ...Object.values(entries)];
  const total = (kind) => firstLoad.reduce((sum, name) => {
    const a = assets[names.indexOf(name)];
    return sum + size(a[kind] || a.identity);
  }, 0);
  const manifest = {
    files: assets.map((a) => ({
      path: a.path,
      content_type: a.contentType,
      etag: a.etag,
      immutable: a.immutable,
      raw: a.identity.length,
      gzip: size(a.gzip),
      br: size(a.brotli),
    })),
    // index.html and everything it references; a missing encoding counts as identity.
    first_load: { files: firstLoad.map((n) => '/' + n), raw: total('identity'), gzip: total('gzip'), br: total('brotli') },
  };
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

  const changed = writeIfChanged(path.join(out, 'assets_data.cc'), renderCc(assets));

  const pad = Math.max(...assets.map((a) => a.path.length));
  for (const f of manifest.files) {
    process.stdout.write(`  ${f.path.padEnd(pad)}  ${String(f.raw).padStart(7)} raw` +
                         `  ${String(f.gzip ?? '-').padStart(6)} gz  ${String(f.br ?? '-').padStart(6)} br\n`);
  }
  const fl = manifest.first_load;
  process.stdout.write(`  first load: ${fl.raw} raw, ${fl.gzip} gzip, ${fl.br} br; ` +
                       `assets_data.cc ${changed ? 'written' : 'unchanged'}\n`);
}

main().catch((err) => fail(err.stack || String(err)));
