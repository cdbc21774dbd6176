// Interleaved rounds over several builds, so that a noisy neighbour hits
// them alike: runs run.mjs for each wasm (and native binary) in turn,
// ROUNDS times, and prints the median per piece (µs) with the spread.
//
//   node bench/micro/interleave.mjs [--rounds R] [--iters N] [--native]
//        NAME=WASM[,NATIVE] ... -- PIECE...
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
let rounds = 5;
let iters = '20000';
let native = false;
const builds = [];
let pieces = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--rounds') rounds = +argv[++i];
  else if (a === '--iters') iters = argv[++i];
  else if (a === '--native') native = true;
  else if (a === '--') { pieces = argv.slice(i + 1); break; }
  else {
    const [name, files] = a.split('=');
    const [wasm, nat] = files.split(',');
    builds.push({ name, wasm, native: nat });
  }
}
const dir = mkdtempSync(join(tmpdir(), 'interleave-'));
const results = new Map(); // `${build}\t${engine}\t${piece}` -> [ns]
for (let r = 0; r < rounds; r++) {
  for (const b of builds) {
    const out = join(dir, 'r.json');
    const args = [join(here, 'run.mjs'), '--wasm', b.wasm, '--iters', iters, '--rounds', '3', '--json', out];
    if (native && b.native) args.push('--native', b.native);
    else args.push('--no-native');
    execFileSync(process.execPath, ['--no-warnings', ...args, ...pieces], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (const row of JSON.parse(readFileSync(out, 'utf8')).rows) {
      for (const [engine, v] of [['V8', row.v8_ns], ['native', row.native_ns]]) {
        if (v == null) continue;
        const k = `${b.name}\t${engine}\t${row.piece}`;
        if (!results.has(k)) results.set(k, []);
        results.get(k).push(v);
      }
    }
  }
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}
rmSync(dir, { recursive: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const engines = native ? ['V8', 'native'] : ['V8'];
const names = [...new Set([...results.keys()].map((k) => k.split('\t')[2]))];
console.log(`median of ${rounds} interleaved runs (each the median of 3 rounds of ${iters}), µs [min-max]\n`);
console.log(`| piece | ${builds.flatMap((b) => engines.map((e) => `${b.name} ${e}`)).join(' | ')} |`);
console.log(`|---|${builds.flatMap(() => engines.map(() => '---:')).join('|')}|`);
for (const p of names) {
  const cells = builds.flatMap((b) =>
    engines.map((e) => {
      const xs = results.get(`${b.name}\t${e}\t${p}`);
      if (!xs) return '';
      return `${(median(xs) / 1000).toFixed(2)} [${(Math.min(...xs) / 1000).toFixed(2)}-${(Math.max(...xs) / 1000).toFixed(2)}]`;
    }),
  );
  console.log(`| ${p} | ${cells.join(' | ')} |`);
}
