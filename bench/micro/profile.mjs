// Summarises a V8 .cpuprofile (node --cpu-prof): self and inclusive time per
// function, and self time per category (SHA-256, HMAC, hex, formatting,
// allocation, ...), over the samples spent inside wasm.
//
//   node bench/micro/profile.mjs PROFILE.cpuprofile [--top N] [--callers REGEX]
//
// --callers: for the samples inside a function matching REGEX, which
// callers (the frame just above the outermost match) they came through.
//
// Names come from the module's name section (build with --profile prof);
// Rust's hash suffixes are dropped.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args[0];
const top = args.includes('--top') ? +args[args.indexOf('--top') + 1] : 25;
const callersOf = args.includes('--callers') ? new RegExp(args[args.indexOf('--callers') + 1]) : null;
const prof = JSON.parse(readFileSync(file, 'utf8'));

// Rust symbol names, demangled well enough to read: legacy `_ZN...E` and,
// crudely, v0 `_R...` (identifiers in order, crate hashes dropped).
function demangle(sym) {
  if (sym.startsWith('_ZN')) {
    const parts = [];
    let i = 3;
    while (i < sym.length && sym[i] !== 'E') {
      const m = /^\d+/.exec(sym.slice(i));
      if (!m) break;
      i += m[0].length;
      parts.push(sym.slice(i, i + +m[0]));
      i += +m[0];
    }
    if (/^h[0-9a-f]{16}$/.test(parts.at(-1) || '')) parts.pop();
    return parts
      .join('::')
      .replace(/\$LT\$/g, '<').replace(/\$GT\$/g, '>').replace(/\$u20\$/g, ' ')
      .replace(/\$C\$/g, ',').replace(/\$RF\$/g, '&').replace(/\$BP\$/g, '*')
      .replace(/\$u7b\$/g, '{').replace(/\$u7d\$/g, '}').replace(/\$u27\$/g, "'")
      .replace(/\$u5b\$/g, '[').replace(/\$u5d\$/g, ']').replace(/\$u3b\$/g, ';')
      .replace(/\.\./g, '::').replace(/^_</, '<');
  }
  if (sym.startsWith('_R')) {
    try {
      return demangleV0(sym.slice(2));
    } catch {
      return sym;
    }
  }
  return sym;
}
// Rust's v0 mangling (RFC 2603), generic arguments left out for brevity.
const BASIC = { a: 'i8', b: 'bool', c: 'char', d: 'f64', e: 'str', f: 'f32', h: 'u8', i: 'isize', j: 'usize', l: 'i32', m: 'u32', n: 'i128', o: 'u128', s: 'i16', t: 'u16', u: '()', v: '...', x: 'i64', y: 'u64', z: '!', p: '_' };
function demangleV0(s) {
  let pos = 0;
  const fail = () => {
    throw new Error('bad v0 symbol');
  };
  const base62 = () => {
    if (s[pos] === '_') return pos++, 0;
    let x = 0;
    while (s[pos] !== '_') {
      const c = s[pos++];
      if (c === undefined) fail();
      const d = /[0-9]/.test(c) ? c.charCodeAt(0) - 48 : /[a-z]/.test(c) ? c.charCodeAt(0) - 87 : /[A-Z]/.test(c) ? c.charCodeAt(0) - 29 : fail();
      x = x * 62 + d;
    }
    pos++;
    return x + 1;
  };
  const disamb = () => {
    if (s[pos] === 's') pos++, base62();
  };
  const ident = () => {
    disamb();
    if (s[pos] === 'u') pos++;
    const m = /^\d+/.exec(s.slice(pos)) || fail();
    pos += m[0].length;
    if (s[pos] === '_') pos++;
    const id = s.slice(pos, pos + +m[0]);
    pos += +m[0];
    return id;
  };
  const backref = (f) => {
    const target = base62();
    const save = pos;
    pos = target;
    const r = f();
    pos = save;
    return r;
  };
  const lifetime = () => {
    if (s[pos] === 'L') pos++, base62();
  };
  const konst = () => {
    if (s[pos] === 'B') return pos++, backref(konst);
    if (s[pos] === 'p') return pos++, '_';
    pos++;
    if (s[pos] === 'n') pos++;
    const start = pos;
    while (s[pos] !== '_') if (pos++ > s.length) fail();
    pos++;
    return String(parseInt(s.slice(start, pos - 1) || '0', 16));
  };
  const genericArg = () => {
    if (s[pos] === 'L') return pos++, base62(), "'_";
    if (s[pos] === 'K') return pos++, konst();
    return type();
  };
  const type = () => {
    const c = s[pos];
    if (BASIC[c]) return pos++, BASIC[c];
    pos++;
    switch (c) {
      case 'A': { const t = type(); return `[${t}; ${konst()}]`; }
      case 'S': return `[${type()}]`;
      case 'T': { const ts = []; while (s[pos] !== 'E') ts.push(type()); pos++; return `(${ts.join(', ')})`; }
      case 'R': lifetime(); return `&${type()}`;
      case 'Q': lifetime(); return `&mut ${type()}`;
      case 'P': return `*const ${type()}`;
      case 'O': return `*mut ${type()}`;
      case 'F': {
        if (s[pos] === 'G') pos++, base62();
        if (s[pos] === 'U') pos++;
        if (s[pos] === 'K') { pos++; if (s[pos] === 'C') pos++; else ident(); }
        while (s[pos] !== 'E') type();
        pos++;
        type();
        return 'fn(..)';
      }
      case 'D': {
        if (s[pos] === 'G') pos++, base62();
        const ts = [];
        while (s[pos] !== 'E') {
          ts.push(path());
          while (s[pos] === 'p') pos++, ident(), type();
        }
        pos++;
        lifetime();
        return `dyn ${ts.join(' + ')}`;
      }
      case 'B': return backref(type);
      default: pos--; return path();
    }
  };
  const path = () => {
    const c = s[pos++];
    switch (c) {
      case 'C': return ident();
      case 'M': { disamb(); path(); return `<${type()}>`; }
      case 'X': { disamb(); path(); const t = type(); return `<${t} as ${path()}>`; }
      case 'Y': { const t = type(); return `<${t} as ${path()}>`; }
      case 'N': {
        const ns = s[pos++];
        const p = path();
        const id = ident();
        if (ns === 'C') return `${p}::{closure}`;
        if (ns === 'S') return `${p}::{shim}`;
        return `${p}::${id}`;
      }
      case 'I': { const p = path(); while (s[pos] !== 'E') genericArg(); pos++; return p; }
      case 'B': return backref(path);
      default: return fail();
    }
  };
  if (/[0-9]/.test(s[0])) while (/[0-9]/.test(s[pos])) pos++;
  return path();
}

const clean = (name) => demangle((name || '(anonymous)').replace(/^\$/, ''));

const categories = [
  ['SHA-256 compression', /sha2::sha256::compress256|sha256::soft|sha256::x86/],
  ['HMAC / digest glue (padding, buffers, keying)', /hmac::|digest::|block_buffer|crypto_common|sha2::core_api/],
  ['hex encode / decode', /\bhex::|as hex::/],
  ['char-by-char String building (Chars::next, String::push, UTF-8 encode)', /Chars as core::iter|String>::push$|encode_utf8|next_code_point|write_char/],
  ['fmt machinery (format!, write!, Display)', /core::fmt|alloc::fmt|Formatter|as core::fmt::/],
  ['allocation (dlmalloc, RawVec grow, clone)', /__rust_alloc|__rust_dealloc|__rust_realloc|__rdl_|dlmalloc|dlfree|dlrealloc|^malloc$|^free$|^realloc$|raw_vec|alloc::alloc|Global>|Vec<T,A>>?::(reserve|push|extend)|String>::(push_str|with_capacity)|as core::clone::Clone>::clone|to_vec|to_owned/],
  ['memcpy / memset / memcmp', /^memcpy$|^memmove$|^memset$|^memcmp$|^bcmp$|copy_from_slice/],
  ['sigv4 canonicalisation', /sigv4::canonical/],
  ['sigv4 other (date, key cache, Authorization)', /sigv4::/],
  ['asset-gate storage / redirect / marker / carry / consent', /asset_gate::/],
  ['str / slice helpers (search, compare, split, UTF-8 check)', /core::str|core::slice|<str>|<\[u8\]>|<\[T\]>|eq_ignore_ascii_case|from_utf8|memchr|Searcher|Split|pattern|as core::cmp::PartialEq/],
  ['benchmark harness', /^micro::|std::time|Instant/],
];
// A sample's category: its leaf function's, else the nearest caller's
// that has one (an iterator adapter inside hex::decode counts as hex).
const cat = new Map();
const categoryOf = (name) => categories.find(([, re]) => re.test(name))?.[0];

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);
const isWasm = (n) => n.callFrame.url.startsWith('wasm://');

// Time per sample from timeDeltas (µs).
const self = new Map();
const incl = new Map();
const callers = new Map();
let wasmTotal = 0;
let total = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0;
  total += dt;
  const leaf = byId.get(prof.samples[i]);
  if (!leaf || !isWasm(leaf)) continue;
  wasmTotal += dt;
  const name = clean(leaf.callFrame.functionName);
  self.set(name, (self.get(name) || 0) + dt);
  let c;
  for (let id = leaf.id; id !== undefined && !c; id = parent.get(id)) {
    const n = byId.get(id);
    if (isWasm(n)) c = categoryOf(clean(n.callFrame.functionName));
  }
  c ??= 'other';
  cat.set(c, (cat.get(c) || 0) + dt);
  if (callersOf) {
    let outer = null;
    for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id);
      if (isWasm(n) && callersOf.test(clean(n.callFrame.functionName))) outer = id;
    }
    if (outer !== null) {
      const up = byId.get(parent.get(outer));
      const key = `${clean(byId.get(outer).callFrame.functionName)}  <-  ${up ? clean(up.callFrame.functionName) : '(root)'}`;
      callers.set(key, (callers.get(key) || 0) + dt);
    }
  }
  const seen = new Set();
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id);
    if (!isWasm(n)) continue;
    const nm = clean(n.callFrame.functionName);
    if (seen.has(nm)) continue;
    seen.add(nm);
    incl.set(nm, (incl.get(nm) || 0) + dt);
  }
}


const pct = (us) => ((100 * us) / wasmTotal).toFixed(1).padStart(5) + '%';
console.log(`${file}: ${(total / 1e3).toFixed(0)} ms sampled, ${(wasmTotal / 1e3).toFixed(0)} ms in wasm`);
console.log(`\nself time by category (share of wasm time; a leaf without one takes its nearest caller's)`);
for (const [c, us] of [...cat].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us)}  ${c}`);
console.log(`\ntop ${top} functions by self time (share of wasm time; inclusive in brackets)`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`  ${pct(us)} [${pct(incl.get(name) || 0)}]  ${name}`);
console.log(`\ntop ${top} functions by inclusive time`);
for (const [name, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`  ${pct(us)}  ${name}`);
if (callersOf) {
  console.log(`\ncallers of /${callersOf.source}/ (inclusive time through each)`);
  for (const [k, us] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
}
