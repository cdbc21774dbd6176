// Runs the micro-benchmark as wasm32-wasip1 under V8 (node:wasi) and,
// unless --no-native, the same source natively; prints both side by side.
//
//   node bench/micro/run.mjs [--wasm F] [--native F] [--iters N] [--rounds R]
//        [--tier turbofan|dynamic] [--no-native | --no-wasm] [--json F] [PIECE...]
//
// --tier turbofan (default) compiles every function with TurboFan up front
// (V8 flag --no-liftoff), as Envoy's V8 does: proxy-wasm-cpp-host sets
// v8_flags.liftoff = false. --tier dynamic keeps node's default (Liftoff,
// then TurboFan for hot functions); a warm-up run of a first instance of
// the same compiled module tiers the hot functions up before the timed run.
import { readFileSync, openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';
import v8 from 'node:v8';

const here = dirname(fileURLToPath(import.meta.url));
const opts = {
  // `cargo build --release [--target wasm32-wasip1] -p asset-gate-micro` (the workspace's target/).
  wasm: join(here, '../../target/wasm32-wasip1/release/micro.wasm'),
  native: join(here, '../../target/release/micro'),
  iters: '20000',
  rounds: '7',
  tier: 'turbofan',
  native_run: true,
  wasm_run: true,
  json: null,
  pieces: [],
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => argv[++i];
  if (a === '--wasm') opts.wasm = next();
  else if (a === '--native') opts.native = next();
  else if (a === '--iters') opts.iters = next();
  else if (a === '--rounds') opts.rounds = next();
  else if (a === '--tier') opts.tier = next();
  else if (a === '--no-native') opts.native_run = false;
  else if (a === '--no-wasm') opts.wasm_run = false;
  else if (a === '--json') opts.json = next();
  else opts.pieces.push(a);
}
if (opts.tier === 'turbofan') v8.setFlagsFromString('--no-liftoff');
else if (opts.tier !== 'dynamic') throw new Error(`unknown --tier ${opts.tier}`);

function parse(text) {
  const pieces = new Map();
  const info = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'piece') pieces.set(f[1], { median: +f[2], min: +f[3] });
    else if (f[0] === 'info' || f[0] === 'checksum') info.push(line);
  }
  return { pieces, info };
}

const module = opts.wasm_run ? await WebAssembly.compile(readFileSync(opts.wasm)) : null;
// The asset-gate rlib brings the filter's proxy-wasm exports, hence its
// imports; the benchmark never calls them.
const proxyAbiStubs = Object.fromEntries(
  (module ? WebAssembly.Module.imports(module) : [])
    .filter((i) => i.module === 'env')
    .map((i) => [i.name, () => { throw new Error(`host call ${i.name} in the micro-benchmark`); }]),
);

async function runWasm(args) {
  const dir = mkdtempSync(join(tmpdir(), 'micro-'));
  const out = join(dir, 'stdout');
  const fd = openSync(out, 'w');
  const wasi = new WASI({ version: 'preview1', args: ['micro', ...args], env: {}, stdout: fd, returnOnExit: true });
  const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env: proxyAbiStubs });
  // The filter's `_initialize` (proxy_wasm::main!) is exported too; node's
  // start() refuses a module that has both, so it sees only what a command needs.
  const { _start, memory } = instance.exports;
  const rc = wasi.start({ exports: { _start, memory } });
  closeSync(fd);
  const text = readFileSync(out, 'utf8');
  rmSync(dir, { recursive: true });
  if (rc !== 0) throw new Error(`wasm exited with ${rc}:\n${text}`);
  return text;
}

// Warm-up: a short run of a first instance (the compiled code, and with
// dynamic tiering the tier-up decisions, belong to the module).
let wasm = { pieces: new Map(), info: [] };
if (opts.wasm_run) {
  await runWasm([String(Math.max(1, Math.floor(+opts.iters / 10))), '2', ...opts.pieces]);
  wasm = parse(await runWasm([opts.iters, opts.rounds, ...opts.pieces]));
}
const native = opts.native_run
  ? parse(execFileSync(opts.native, [opts.iters, opts.rounds, ...opts.pieces], { encoding: 'utf8' }))
  : null;

if (opts.wasm_run) console.log(`wasm: ${opts.wasm}  (V8 ${process.versions.v8}, node ${process.version}, tier ${opts.tier}${opts.tier === 'turbofan' ? ' = --no-liftoff' : ''})`);
if (native) console.log(`native: ${opts.native}`);
for (const l of wasm.info) console.log(`  wasm   ${l}`);
if (native) for (const l of native.info) console.log(`  native ${l}`);
console.log(`${opts.iters} iterations x ${opts.rounds} rounds, median ns per call (fastest round)`);
const pad = (s, n) => String(s).padStart(n);
console.log(`${'piece'.padEnd(30)} ${pad('V8 ns', 16)} ${native ? pad('native ns', 16) + ' ' + pad('V8/native', 9) : ''}`);
const rows = [];
const names = opts.wasm_run ? [...wasm.pieces.keys()] : [...native.pieces.keys()];
for (const name of names) {
  const w = wasm.pieces.get(name) ?? { median: NaN, min: NaN };
  const n = native?.pieces.get(name);
  rows.push({ piece: name, v8_ns: opts.wasm_run ? w.median : null, v8_min_ns: opts.wasm_run ? w.min : null, native_ns: n?.median ?? null, native_min_ns: n?.min ?? null });
  const cell = (p) => `${p.median.toFixed(1)} (${p.min.toFixed(1)})`;
  if (!opts.wasm_run) console.log(`${name.padEnd(30)} ${pad('', 16)} ${pad(cell(n), 16)}`);
  else console.log(`${name.padEnd(30)} ${pad(cell(w), 16)} ${n ? pad(cell(n), 16) + ' ' + pad((w.median / n.median).toFixed(2) + 'x', 9) : ''}`);
}
if (opts.json) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(opts.json, JSON.stringify({ wasm: opts.wasm, tier: opts.tier, v8: process.versions.v8, iters: +opts.iters, rounds: +opts.rounds, rows }, null, 1));
}
