// Runs the built asset-gate module the way Envoy calls it, with a small
// proxy-wasm host written here, so that `node --cpu-prof` sees the whole
// per-request path in wasm (the SDK's dispatch, the host layer, the core)
// and not only the core's pieces that `run.mjs` times. Not part of
// `make test`; it asserts what each request must do, never a timing.
//
//   node bench/micro/host.mjs [--wasm F] [--iters N] SCENARIO...
//
// Scenarios replay one request as Envoy presents it to each placement:
//   c   flow C: `role: storage` (require_marker false) as an upstream filter,
//       the request bench/run.py's variant (c) sends (host, 3 headers Envoy adds)
//   e   flow A: edge (client request), auth_backend (the backend answers an
//       empty 200 with X-Accel-Redirect), storage (the redirected request with
//       the marker the auth_backend role issued), as variant (e)
// Each prints ns per request under V8 (TurboFan, as Envoy) and host calls per
// request. Build the module with names for a readable profile:
//   cargo rustc --lib --release --target wasm32-wasip1 --crate-type cdylib \
//     --config 'profile.release.strip=false'
//   node --cpu-prof bench/micro/host.mjs --wasm target/wasm32-wasip1/release/asset_gate.wasm e
//   node bench/micro/profile.mjs CPU.*.cpuprofile
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import v8 from 'node:v8';

v8.setFlagsFromString('--no-liftoff');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args.splice(args.indexOf(name), 2)[1] : dflt);
const wasmPath = opt('--wasm', new URL('../../dist/asset_gate.wasm', import.meta.url).pathname);
const iters = +opt('--iters', '20000');
const scenarios = args.length ? args : ['c', 'e'];

const enc = new TextEncoder();
const dec = new TextDecoder();
const OK = 0, NOT_FOUND = 1;
const CREDS = { access_key_id: 'AKIDBENCH', secret_access_key: 'benchsecretbenchsecretbenchsecret' };

let ex, mem; // the instance's exports and memory
let calls = 0;
const u8 = () => new Uint8Array(mem.buffer);
const dv = () => new DataView(mem.buffer);
const str = (p, n) => dec.decode(u8().subarray(p, p + n));
// Bytes handed to the module are allocated by it (proxy_on_memory_allocate), as Envoy does.
function give(bytes, retPtr, retSize) {
  const p = ex.proxy_on_memory_allocate(bytes.length);
  u8().set(bytes, p);
  dv().setUint32(retPtr, p, true);
  dv().setUint32(retSize, bytes.length, true);
}
function serialize(pairs) {
  const parts = pairs.map(([k, v]) => [enc.encode(k), typeof v === 'string' ? enc.encode(v) : v]);
  let size = 4 + parts.length * 8;
  for (const [k, v] of parts) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const d = new DataView(out.buffer);
  d.setUint32(0, parts.length, true);
  let at = 4 + parts.length * 8;
  parts.forEach(([k, v], i) => {
    d.setUint32(4 + i * 8, k.length, true);
    d.setUint32(8 + i * 8, v.length, true);
    out.set(k, at); at += k.length + 1;
    out.set(v, at); at += v.length + 1;
  });
  return out;
}
function deserialize(p, n) {
  const d = dv();
  const count = d.getUint32(p, true);
  let at = p + 4 + count * 8;
  const pairs = [];
  for (let i = 0; i < count; i++) {
    const kl = d.getUint32(p + 4 + i * 8, true), vl = d.getUint32(p + 8 + i * 8, true);
    pairs.push([str(at, kl), str(at + kl + 1, vl)]);
    at += kl + vl + 2;
  }
  return pairs;
}

// The state Envoy keeps: header maps of the current stream, the plugin
// configuration of the root being configured, shared data, metrics.
const maps = { 0: [], 2: [] };
let pluginConfig = new Uint8Array();
let pluginName = '';
const shared = new Map();
const metrics = [];
let localReply = null;
const nowNs = () => BigInt(Date.now()) * 1000000n;

const env = {
  proxy_log: () => OK,
  proxy_get_log_level: (ret) => { calls++; dv().setUint32(ret, 2, true); return OK; }, // info
  proxy_get_current_time_nanoseconds: (ret) => { calls++; dv().setBigUint64(ret, nowNs(), true); return OK; },
  proxy_set_tick_period_milliseconds: () => OK,
  proxy_get_buffer_bytes: (type, start, max, retPtr, retSize) => {
    calls++;
    if (type !== 7) return NOT_FOUND;
    give(pluginConfig.subarray(start, start + max), retPtr, retSize);
    return OK;
  },
  proxy_get_header_map_pairs: (type, retPtr, retSize) => {
    calls++;
    give(serialize(maps[type] ?? []), retPtr, retSize);
    return OK;
  },
  proxy_set_header_map_pairs: (type, p, n) => { calls++; maps[type] = deserialize(p, n); return OK; },
  proxy_get_header_map_value: (type, kp, kn, retPtr, retSize) => {
    calls++;
    const k = str(kp, kn);
    const hit = (maps[type] ?? []).find(([n]) => n === k);
    if (!hit) return NOT_FOUND;
    give(enc.encode(hit[1]), retPtr, retSize);
    return OK;
  },
  proxy_replace_header_map_value: (type, kp, kn, vp, vn) => {
    calls++;
    const k = str(kp, kn), v = str(vp, vn);
    const m = (maps[type] ?? []).filter(([n]) => n !== k);
    m.push([k, v]);
    maps[type] = m;
    return OK;
  },
  proxy_add_header_map_value: (type, kp, kn, vp, vn) => { calls++; maps[type].push([str(kp, kn), str(vp, vn)]); return OK; },
  proxy_remove_header_map_value: (type, kp, kn) => {
    calls++;
    const k = str(kp, kn);
    maps[type] = (maps[type] ?? []).filter(([n]) => n !== k);
    return OK;
  },
  proxy_get_property: (pp, pn, retPtr, retSize) => {
    calls++;
    const path = str(pp, pn).split('\0').filter(Boolean).join('.');
    if (path === 'plugin_name') { give(enc.encode(pluginName), retPtr, retSize); return OK; }
    return NOT_FOUND;
  },
  proxy_define_metric: (type, np, nn, ret) => { metrics.push(0n); dv().setUint32(ret, metrics.length - 1, true); return OK; },
  proxy_increment_metric: (id, by) => { calls++; metrics[id] += by; return OK; },
  proxy_record_metric: (id, v) => { calls++; metrics[id] = v; return OK; },
  proxy_get_shared_data: (kp, kn, retPtr, retSize, retCas) => {
    calls++;
    const hit = shared.get(str(kp, kn));
    if (!hit) return NOT_FOUND;
    give(hit.value, retPtr, retSize);
    dv().setUint32(retCas, hit.cas, true);
    return OK;
  },
  proxy_set_shared_data: (kp, kn, vp, vn, cas) => {
    const k = str(kp, kn);
    const old = shared.get(k);
    shared.set(k, { value: u8().slice(vp, vp + vn), cas: (old?.cas ?? 0) + 1 });
    return OK;
  },
  proxy_send_local_response: (status) => { calls++; localReply = status; return OK; },
  proxy_set_effective_context: () => OK,
  proxy_continue_stream: () => OK,
  proxy_done: () => OK,
};
const missing = (name) => () => { throw new Error(`host call ${name} is not emulated`); };
const envProxy = new Proxy(env, { get: (t, k) => t[k] ?? missing(String(k)) });

const wasi = new WASI({ version: 'preview1', env: {}, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, {
  env: envProxy,
  wasi_snapshot_preview1: wasi.wasiImport,
});
ex = instance.exports;
mem = ex.memory;
wasi.initialize(instance);

let nextId = 1;
function root(name, config) {
  const id = nextId++;
  pluginName = name;
  pluginConfig = enc.encode(JSON.stringify(config));
  ex.proxy_on_context_create(id, 0);
  ex.proxy_on_vm_start(id, 0);
  if (!ex.proxy_on_configure(id, pluginConfig.length)) throw new Error(`${name}: on_configure refused`);
  return id;
}
const signing = { region: 'us-east-1', credentials: { source: 'static', ...CREDS } };
const roots = {
  c: root('bench_c', { role: 'storage', signing: { ...signing, require_marker: false } }),
  edge: root('bench_e_edge', { role: 'edge' }),
  auth: root('bench_e_auth', { role: 'auth_backend', redirect: { internal_prefixes: ['/internal-assets/'] } }),
  storage: root('bench_e_storage', {
    role: 'storage',
    signing: { ...signing, buckets: [{ prefix: '/internal-assets/', bucket: 'bench' }] },
  }),
};

// The request as Envoy hands it to an upstream filter (wrk sends only Host).
const client = (path) => [
  [':authority', '127.0.0.1:10000'], [':path', path], [':method', 'GET'], [':scheme', 'http'],
  ['x-forwarded-proto', 'http'], ['x-request-id', '2f0c5d1e-8a4b-4c3e-9f1a-6b7d8e9f0a1b'],
  ['x-envoy-expected-rq-timeout-ms', '15000'],
];
const object = () => [
  [':status', '200'], ['content-length', '4096'], ['content-type', 'application/octet-stream'],
  ['date', 'Wed, 02 Dec 2026 03:00:00 GMT'], ['server', 'envoy'], ['x-envoy-upstream-service-time', '0'],
];
// One HTTP context of `rootId` through request and response headers.
function stream(rootId, request, response, check) {
  const id = nextId++;
  maps[0] = request;
  localReply = null;
  ex.proxy_on_context_create(id, rootId);
  if (ex.proxy_on_request_headers(id, request.length, 1) !== 0) throw new Error('request paused');
  check?.request?.(maps[0]);
  if (localReply !== null) throw new Error(`local reply ${localReply}`);
  if (response) {
    maps[2] = response;
    ex.proxy_on_response_headers(id, response.length, 1);
    check?.response?.(maps[2]);
  }
  ex.proxy_on_delete(id);
  return maps;
}
const signed = (m) => {
  const auth = m.find(([k]) => k === 'authorization');
  if (!auth || !auth[1].startsWith('AWS4-HMAC-SHA256 Credential=AKIDBENCH/')) throw new Error('not signed');
};

const run = {
  c: () => stream(roots.c, client('/bench/obj.bin'), object(), { request: signed }),
  e: () => {
    stream(roots.edge, client('/assets/obj.bin'), null);
    const answer = [[':status', '200'], ['x-accel-redirect', '/internal-assets/obj.bin'], ['content-length', '0']];
    let redirect;
    stream(roots.auth, client('/assets/obj.bin'), answer, { response: (m) => { redirect = m; } });
    const marker = redirect.find(([k]) => k === 'x-internal-redirect');
    if (!marker || redirect[0][1] !== '303') throw new Error('no marked 303');
    const redirected = client('/internal-assets/obj.bin');
    redirected.push(['x-envoy-original-path', '/assets/obj.bin'], marker);
    stream(roots.storage, redirected, object(), {
      request: (m) => { signed(m); if (!m.some(([k, v]) => k === ':path' && v === '/bench/obj.bin')) throw new Error('path'); },
    });
  },
};

for (const s of scenarios) {
  if (!run[s]) throw new Error(`unknown scenario ${s}`);
  for (let i = 0; i < Math.max(1000, iters / 4); i++) run[s]();
  const before = calls;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) run[s]();
  const ns = Number(process.hrtime.bigint() - t0) / iters;
  console.log(`${s}: ${ns.toFixed(0)} ns per request under V8, ${((calls - before) / iters).toFixed(1)} host calls`);
}
