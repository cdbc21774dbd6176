// Markdown tables from variants.sh's output directory.
//   node bench/micro/table.mjs DIR [--all]
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] || '/tmp/micro-variants';
const all = process.argv.includes('--all');
const profiles = ['release', 'v-nolto', 'v-zall', 'v-zhot', 'v-o3', 'v-os', 'v-selfs', 'v-self3', 'v-thin'].filter((p) => existsSync(join(dir, `${p}.json`)));
const what = {
  release: 'the root profile as written: z, fat LTO, sha2 at 3',
  'v-nolto': 'the root profile as cargo applies it to the cdylib+rlib lib: z, no LTO, sha2 at 3',
  'v-zall': 'z, fat LTO, sha2 at z too',
  'v-zhot': 'z, fat LTO, sha2+hmac+digest+block-buffer+hex at 3',
  'v-o3': 'opt-level 3 everywhere, fat LTO',
  'v-os': 's, fat LTO, sha2 at 3',
  'v-thin': 'z, thin LTO, sha2 at 3',
  'v-selfs': 'asset-gate at s, other crates z, sha2 3, fat LTO',
  'v-self3': 'asset-gate at 3, other crates z, sha2 3, fat LTO',
};
const load = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const main = [
  'storage_prepare', 'marker_issue', 'marker_verify', 'redirect_decide', 'carry_collect',
  'consented_headers', 'rewrite_applied_to', 'carry_parse', 'flow_a_total',
  'sha256_compress_1block', 'hmac_new_from_slice', 'hex_encode_carried', 'hex_decode_carried',
  'marker_issue_prototype', 'marker_verify_prototype',
];
const runs = Object.fromEntries(profiles.map((p) => [p, { raw: load(`${p}.json`), oz: load(`${p}.oz.json`), size: load(`${p}.size.json`) }]));
const row = (r, piece) => r.rows.find((x) => x.piece === piece);
const pieces = all ? runs.release.raw.rows.map((r) => r.piece) : main;
const us = (ns) => (ns == null ? '' : (ns / 1000).toFixed(2));

const table = (title, cell) => {
  console.log(`\n${title}\n`);
  console.log(`| piece | ${profiles.join(' | ')} |`);
  console.log(`|---|${profiles.map(() => '---:').join('|')}|`);
  for (const piece of pieces) console.log(`| ${piece} | ${profiles.map((p) => us(cell(p, piece))).join(' | ')} |`);
};
const r0 = runs.release.raw;
console.log(`µs per call, median of ${r0.rounds} rounds of ${r0.iters} calls; V8 ${r0.v8}, tier ${r0.tier}`);
table('V8, module after wasm-opt -Oz (as `make build` ships it)', (p, piece) => row(runs[p].oz, piece)?.v8_ns);
table('native (x86_64, SHA-NI), same profile', (p, piece) => row(runs[p].raw, piece)?.native_ns);
if (existsSync(join(dir, 'release.soft-sha.json'))) {
  const soft = load('release.soft-sha.json');
  console.log(`\nrelease profile: V8 vs native with SHA-NI vs native with software SHA-256 (sha2 force-soft)\n`);
  console.log(`| piece | V8 (-Oz) | native | native soft SHA | V8 / native soft |`);
  console.log(`|---|---:|---:|---:|---:|`);
  for (const piece of pieces) {
    const v = row(runs.release.oz, piece)?.v8_ns, n = row(runs.release.raw, piece)?.native_ns, sn = row(soft, piece)?.native_ns;
    console.log(`| ${piece} | ${us(v)} | ${us(n)} | ${us(sn)} | ${v && sn ? (v / sn).toFixed(2) + 'x' : ''} |`);
  }
}
table('V8, raw cargo output (before wasm-opt)', (p, piece) => row(runs[p].raw, piece)?.v8_ns);

const post = ['O3', 'O2'].filter((o) => existsSync(join(dir, `release.${o}.json`)));
if (post.length) {
  console.log(`\nrelease build, wasm-opt pass compared (V8 µs)\n`);
  console.log(`| piece | raw | -Oz (make build) | ${post.map((o) => `-${o}`).join(' | ')} |`);
  console.log(`|---|---:|---:|${post.map(() => '---:').join('|')}|`);
  const extra = Object.fromEntries(post.map((o) => [o, load(`release.${o}.json`)]));
  for (const piece of pieces)
    console.log(`| ${piece} | ${us(row(runs.release.raw, piece)?.v8_ns)} | ${us(row(runs.release.oz, piece)?.v8_ns)} | ${post.map((o) => us(row(extra[o], piece)?.v8_ns)).join(' | ')} |`);
}

console.log(`\nsizes: micro-benchmark wasm after wasm-opt -Oz (indicative: the filter's exports come with the rlib), and hot functions before wasm-opt\n`);
console.log(`| profile | what | micro .wasm -Oz (bytes) | sha2 compress256 (bytes) | hex crate functions (bytes) |`);
console.log(`|---|---|---:|---:|---:|`);
for (const p of profiles) {
  const s = runs[p].size;
  console.log(`| ${p} | ${what[p]} | ${s.oz_bytes} | ${s.compress256_bytes} | ${s.hex_bytes} |`);
}
const rs = join(dir, 'root-sizes.tsv');
if (existsSync(rs)) {
  console.log(`\nthe real module (root crate, cargo build --release --target wasm32-wasip1 with overrides), bytes\n`);
  console.log(`| root variant | raw | after wasm-opt -Oz (dist/) | vs as-is | of 256 KB (256000 B) |`);
  console.log(`|---|---:|---:|---:|---:|`);
  const lines = readFileSync(rs, 'utf8').trim().split('\n').map((l) => l.split('\t'));
  const base = +lines.find((l) => l[0] === 'as-is')?.[2];
  for (const [name, raw, oz] of lines)
    console.log(`| ${name} | ${raw} | ${oz} | ${base ? ((+oz - base) >= 0 ? '+' : '') + ((+oz - base) / 1000).toFixed(1) + ' KB' : ''} | ${((100 * +oz) / 256000).toFixed(1)}% |`);
}
