//! asset-gate's per-request pure work, piece by piece: what one request
//! costs inside the filter apart from host calls. The same source runs
//! natively (`cargo run --release -- N`) and as wasm32-wasip1 under V8
//! (`node run.mjs`), so the two can be set side by side.
//!
//! Usage: `micro [ITERATIONS] [ROUNDS] [PIECE...]` (a PIECE ending in `*`
//! is a prefix; none means all). Each piece runs a
//! warm-up, then ROUNDS timed rounds of ITERATIONS calls; the median and the
//! fastest round are printed in ns per call, as
//! `piece <name> <median_ns> <min_ns> <iterations> <rounds>`.
//! A final `checksum` line keeps every result alive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use asset_gate_core::config::{Config, CredentialsConfig, Env, SigningConfig};
use asset_gate_core::internal_redirect::carry;
use asset_gate_core::internal_redirect::consent;
use asset_gate_core::internal_redirect::marker::{self, Grant, MarkerKey};
use asset_gate_core::internal_redirect::target::{self, Answer, Decision, Origin, Targets};
use asset_gate_core::signing::prepare::{self, Body, Signed};
use asset_gate_core::sigv4::{self, Credentials, SigningKeyCache};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Instant;

type HmacSha256 = Hmac<Sha256>;

/// A fixed request time (2026-11-23), as the host clock would give it.
const NOW: u64 = 1_795_320_000;
const SECRET: [u8; marker::SECRET_LEN] = [0x5a; marker::SECRET_LEN];
const PATH: &str = "/internal-assets/photos/2026/1.jpg";

/// A signing edge (flow C) as `make bench`'s variant (c) configures it.
const SIGNING_EDGE_CONFIG: &str = r#"{"role": "storage", "signing": {"region": "us-east-1",
    "require_marker": false,
    "credentials": {"source": "static", "access_key_id": "AKIDEXAMPLE",
                    "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}}"#;
const STORAGE_CONFIG: &str = r#"{
  "role": "storage",
  "redirect": {"internal_prefixes": ["/internal-assets/"]},
  "signing": {
    "region": "us-east-1",
    "endpoint": "127.0.0.1:8333",
    "buckets": [{"prefix": "/internal-assets/", "bucket": "assets"}],
    "credentials": {"source": "static", "access_key_id": "AKIDASSETFLOW",
                    "secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
  }
}"#;

const AUTH_CONFIG: &str =
    r#"{"role": "auth_backend", "redirect": {"internal_prefixes": ["/internal-assets/"]}}"#;

struct NoEnv;
impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fn owned(h: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    h.iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// Everything a request's pieces need, built once (as the VM builds its
/// configuration once).
struct Fixture {
    signing: SigningConfig,
    creds: Credentials,
    auth: Config,
    /// The auth backend's X-Accel-Redirect answer, as the host hands it over.
    answer: Vec<(String, Vec<u8>)>,
    /// The marker secret keyed into HMAC (as the VM keeps it).
    key: MarkerKey,
    /// What `carry::collect` makes of it (the bytes the marker carries).
    carried: Vec<u8>,
    marker: String,
    /// The internally redirected request as the storage role's upstream
    /// filter reads it (marker included).
    storage_request: Vec<(String, Vec<u8>)>,
    /// What the read consent forwards of it.
    consented: Vec<(String, Vec<u8>)>,
}

fn fixture() -> Fixture {
    let storage_cfg = Config::parse(STORAGE_CONFIG.as_bytes(), &NoEnv).expect("storage config");
    let signing = storage_cfg.signing.expect("signing");
    let CredentialsConfig::Static(creds) = signing.credentials.clone() else {
        panic!("static credentials");
    };
    let auth = Config::parse(AUTH_CONFIG.as_bytes(), &NoEnv).expect("auth config");
    let answer = owned(&[
        (":status", "200"),
        ("content-type", "text/html; charset=utf-8"),
        ("x-accel-redirect", PATH),
        (
            "content-disposition",
            "attachment; filename=\"holiday-1.jpg\"",
        ),
        ("set-cookie", "sid=8f14e45fceea167a; Path=/; HttpOnly"),
        ("cache-control", "private, max-age=60"),
        ("content-length", "0"),
        ("date", "Mon, 23 Nov 2026 10:00:00 GMT"),
        ("server", "gunicorn"),
        ("x-envoy-upstream-service-time", "2"),
    ]);
    let carried = collect(&auth, &answer);
    let key = MarkerKey::new(&SECRET);
    let marker = marker::issue(&key, PATH, Grant::Read, &carried, NOW, 30);
    let storage_request = owned(&[
        (":authority", "cdn.example.com"),
        (":path", PATH),
        (":method", "GET"),
        (":scheme", "https"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        ),
        ("accept", "image/avif,image/webp,*/*"),
        ("accept-encoding", "gzip, deflate, br"),
        ("range", "bytes=0-65535"),
        ("cookie", "sid=8f14e45fceea167a"),
        ("x-forwarded-proto", "https"),
        ("x-request-id", "0f0e0d0c-0b0a-0908-0706-050403020100"),
        ("x-envoy-original-url", "https://cdn.example.com/download/1"),
        ("x-envoy-expected-rq-timeout-ms", "15000"),
        ("x-internal-redirect", marker.as_str()),
    ]);
    let consented =
        consent::consented_headers(&storage_request, &signing.forwarded_request_headers)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
    Fixture {
        signing,
        creds,
        auth,
        answer,
        key,
        carried,
        marker,
        storage_request,
        consented,
    }
}

fn collect(auth: &Config, answer: &[(String, Vec<u8>)]) -> Vec<u8> {
    let r = &auth.redirect;
    carry::collect(
        answer.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
        &r.keep_backend_headers,
        r.max_kept_bytes,
    )
    .expect("carried headers fit")
}

fn decide(auth: &Config, answer: &[(String, Vec<u8>)]) -> Decision {
    let r = &auth.redirect;
    let h = |name: &str| {
        answer
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    };
    let a = Answer {
        status: 200,
        location: None,
        accel: h("x-accel-redirect"),
        flagged: false,
    };
    let origin = Origin {
        authority: "cdn.example.com",
        scheme: "https",
    };
    let targets = Targets {
        prefixes: &r.internal_prefixes,
        authorities: &r.internal_authorities,
        rules: &r.key_rules,
        query: r.read_query,
        consent: r.consent,
    };
    target::decide(&a, &origin, &targets)
}

fn prepare(f: &Fixture, headers: &[(String, Vec<u8>)], cache: &mut SigningKeyCache) -> u64 {
    match prepare::prepare(&f.signing, Some(&f.creds), headers, Body::None, NOW, cache) {
        Ok(Signed::Yes(rw)) => {
            rw.set
                .iter()
                .flat_map(|s| s.iter())
                .map(|(_, v)| v.len() as u64)
                .sum::<u64>()
                + rw.path.len() as u64
        }
        other => panic!("not signed: {other:?}"),
    }
}

/// The marker's MAC input, as `marker::mac` feeds it (copied: the
/// experiment of keying once and cloning).
fn marker_mac(
    mut m: HmacSha256,
    id: &str,
    expires_at: &str,
    path: &str,
    carried: &[u8],
) -> [u8; 32] {
    for part in ["v3", id, expires_at, "r", path] {
        m.update(part.as_bytes());
        m.update(b"\n");
    }
    m.update(carried);
    m.finalize().into_bytes().into()
}

fn hmac_once(mut m: HmacSha256, data: &[u8]) -> [u8; 32] {
    m.update(data);
    m.finalize().into_bytes().into()
}

/// Lower-case hex of `bytes` into `out` (twice as long): a table lookup per
/// nibble, no iterator adapters.
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}

/// Hex digit values, 0xff for anything else.
const UNHEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes `hex` into `out` (half as long); `None` on a bad digit or length.
fn unhex_into(out: &mut [u8], hex: &[u8]) -> Option<()> {
    if hex.len() != 2 * out.len() {
        return None;
    }
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (h, l) = (UNHEX[usize::from(pair[0])], UNHEX[usize::from(pair[1])]);
        bad |= h | l;
        *o = h << 4 | (l & 15);
    }
    (bad & 0xf0 == 0).then_some(())
}

/// `marker::issue` as it could be (a prototype, checked equal to it in
/// `main`): the HMAC keyed once per secret and cloned per call (as
/// `MarkerKey` does since 490c4e9), hex written into a buffer sized up front
/// (`hex_into`), no `format!`.
fn issue_prototype(
    keyed: &HmacSha256,
    id: &str,
    path: &str,
    carried: &[u8],
    now: u64,
    ttl: u64,
) -> String {
    let expires_at = now.saturating_add(ttl).to_string();
    let tag = marker_mac(keyed.clone(), id, &expires_at, path, carried);
    let start = 3 + id.len() + 1;
    let head = start + expires_at.len() + 3;
    let mut out = vec![0u8; head + 2 * carried.len() + 1 + 64];
    out[..3].copy_from_slice(b"v3.");
    out[3..start - 1].copy_from_slice(id.as_bytes());
    out[start - 1] = b'.';
    out[start..start + expires_at.len()].copy_from_slice(expires_at.as_bytes());
    out[head - 3..head].copy_from_slice(b".r.");
    let mid = head + 2 * carried.len();
    hex_into(&mut out[head..mid], carried);
    out[mid] = b'.';
    hex_into(&mut out[mid + 1..], &tag);
    String::from_utf8(out).expect("ascii")
}

/// `marker::verify` as it could be (prototype): hex decoded into buffers
/// sized up front (`unhex_into`), the HMAC keyed once per secret.
fn verify_prototype(
    keyed: &HmacSha256,
    id: &str,
    marker: &[u8],
    path: &str,
    now: u64,
) -> Option<Vec<u8>> {
    let marker = std::str::from_utf8(marker).ok()?.trim();
    let mut parts = marker.split('.');
    let (Some("v3"), Some(kid), Some(exp), Some("r"), Some(carried_hex), Some(tag_hex), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if kid != id || exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let expires_at: u64 = exp.parse().ok()?;
    let mut carried = vec![0u8; carried_hex.len() / 2];
    unhex_into(&mut carried, carried_hex.as_bytes())?;
    let mut tag = [0u8; 32];
    unhex_into(&mut tag, tag_hex.as_bytes())?;
    let mut m = keyed.clone();
    for part in ["v3", id, exp, "r", path] {
        m.update(part.as_bytes());
        m.update(b"\n");
    }
    m.update(&carried);
    m.verify_slice(&tag).ok()?;
    (now <= expires_at).then_some(carried)
}

/// `canonical.rs`'s `push_lowercase` / `push_trimmed` as they are (char by
/// char) and byte-wise, for the string-building experiment.
fn lowercase_chars(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| c.to_ascii_lowercase()));
}

fn trimmed_chars(out: &mut String, value: &str) {
    let mut previous_space = false;
    for c in value.trim_matches(' ').chars() {
        if c == ' ' {
            if !previous_space {
                out.push(' ');
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
}

fn lowercase_bytes(out: &mut String, s: &str) {
    let start = out.len();
    out.push_str(s);
    out[start..].make_ascii_lowercase();
}

fn trimmed_bytes(out: &mut String, value: &str) {
    for (i, word) in value.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// SHA-256 compression calls for a message of `len` bytes (padding included).
fn blocks(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

/// A logger shaped like proxy-wasm's (format the record, hand the string to
/// the host), with the host call replaced by a black box.
struct HostLikeLogger;
impl log::Log for HostLikeLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        black_box(message.as_bytes());
    }
    fn flush(&self) {}
}
static LOGGER: HostLikeLogger = HostLikeLogger;

struct Runner {
    iterations: u32,
    rounds: usize,
    only: Vec<String>,
    checksum: u64,
}

impl Runner {
    /// Times `f` (returning something derived from its result) and prints
    /// the median and fastest round in ns per call.
    fn piece(&mut self, name: &str, mut f: impl FnMut() -> u64) {
        let wanted = |o: &String| match o.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == o,
        };
        if !self.only.is_empty() && !self.only.iter().any(wanted) {
            return;
        }
        for _ in 0..(self.iterations / 4).max(1) {
            self.checksum = self.checksum.wrapping_add(f());
        }
        let mut per_round: Vec<f64> = Vec::with_capacity(self.rounds);
        for _ in 0..self.rounds {
            let start = Instant::now();
            let mut acc = 0u64;
            for _ in 0..self.iterations {
                acc = acc.wrapping_add(black_box(f()));
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(self.iterations);
            self.checksum = self.checksum.rotate_left(5) ^ acc;
            per_round.push(ns);
        }
        per_round.sort_by(f64::total_cmp);
        let median = per_round[per_round.len() / 2];
        let min = per_round[0];
        println!(
            "piece {name} {median:.1} {min:.1} {} {}",
            self.iterations, self.rounds
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let iterations: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let only: Vec<String> = args.iter().skip(2).cloned().collect();
    let f = fixture();
    let mut r = Runner {
        iterations,
        rounds,
        only,
        checksum: 0,
    };

    // What the pieces work on, for the record.
    let sig = {
        let to_sign: Vec<(&str, &str)> = vec![("host", "127.0.0.1:8333")];
        let req = sigv4::Request {
            method: "GET",
            path: "/assets/photos/2026/1.jpg",
            query: "",
            headers: &to_sign,
        };
        let scope = sigv4::Scope {
            region: "us-east-1",
            service: "s3",
        };
        let opts = sigv4::HeaderSigning {
            payload_hash: sigv4::UNSIGNED_PAYLOAD,
            add_content_sha256_header: true,
            session_token_signed: true,
        };
        sigv4::sign_headers_with(
            &req,
            &f.creds,
            &scope,
            sigv4::PathRules::S3,
            NOW,
            &opts,
            &mut SigningKeyCache::default(),
        )
        .expect("signs")
    };
    let expires_at = (NOW + 30).to_string();
    let mac_input = 3 + expires_at.len() + 1 + 2 + PATH.len() + 1 + f.carried.len();
    println!(
        "info target {} sha2 {}",
        std::env::consts::ARCH,
        if cfg!(feature = "soft-sha") {
            "soft (forced)"
        } else {
            "default backend"
        }
    );
    println!(
        "info carried {} B, marker {} B, storage request {} headers, consented {} headers",
        f.carried.len(),
        f.marker.len(),
        f.storage_request.len(),
        f.consented.len()
    );
    println!(
        "info canonical request {} B ({} blocks), string to sign {} B (HMAC: 2 keying + {} + 1 outer blocks), marker MAC input {} B (2 keying + {} + 1 outer blocks)",
        sig.canonical_request.len(),
        blocks(sig.canonical_request.len()),
        sig.string_to_sign.len(),
        blocks(64 + sig.string_to_sign.len()) - 1,
        mac_input,
        blocks(64 + mac_input) - 1,
    );

    // ---- the pieces of one flow A request, in the order they run ----
    let mut cache = SigningKeyCache::default();
    r.piece("redirect_decide", || match decide(&f.auth, &f.answer) {
        Decision::Internal { path, location, .. } => (path.len() + location.len()) as u64,
        other => panic!("{other:?}"),
    });
    r.piece("carry_collect", || collect(&f.auth, &f.answer).len() as u64);
    r.piece("marker_issue", || {
        marker::issue(&f.key, PATH, Grant::Read, &f.carried, NOW, 30).len() as u64
    });
    r.piece("marker_verify", || {
        match marker::verify(&f.key, f.marker.as_bytes(), PATH, NOW) {
            Ok(c) => c.carried.len() as u64,
            Err(e) => panic!("{e}"),
        }
    });
    r.piece("consented_headers", || {
        consent::consented_headers(&f.storage_request, &f.signing.forwarded_request_headers).len()
            as u64
    });
    r.piece("storage_prepare", || prepare(&f, &f.consented, &mut cache));
    let Ok(Signed::Yes(rewrite)) = prepare::prepare(
        &f.signing,
        Some(&f.creds),
        &f.consented,
        Body::None,
        NOW,
        &mut cache,
    ) else {
        panic!("signs");
    };
    r.piece("rewrite_applied_to", || {
        rewrite.applied_to(black_box(&f.consented)).len() as u64
    });
    // Storage's answer as a flow A client sees it: what the storage role
    // does on the response (hide identifying headers, apply the kept ones).
    let storage_answer = owned(&[
        (":status", "200"),
        ("content-type", "image/png"),
        ("content-length", "4096"),
        ("etag", "\"0123456789abcdef0123456789abcdef\""),
        ("last-modified", "Tue, 01 Dec 2026 10:00:00 GMT"),
        ("accept-ranges", "bytes"),
        ("server", "SeaweedFS 4.48"),
        ("x-amz-request-id", "1764583200000000000"),
    ]);
    r.piece("client_answer", || {
        let kept = carry::parse(&f.carried);
        let rules = consent::AnswerRules {
            hide: &f.signing.hide_response_headers,
            kept: &kept,
            ..consent::AnswerRules::default()
        };
        consent::client_answer(black_box(&storage_answer), &rules).map_or(0, |a| a.len()) as u64
    });
    // The pure work of one flow A request end to end: auth backend (decide,
    // collect, issue), storage (verify, consent, prepare, whole-map rewrite,
    // then the client's answer). The edge role has no work on the internal
    // route (the shipped configs turn it off there). Host calls excluded.
    r.piece("flow_a_total", || {
        let Decision::Internal { path, .. } = decide(&f.auth, &f.answer) else {
            panic!("internal");
        };
        let kept = collect(&f.auth, &f.answer);
        let m = marker::issue(&f.key, &path, Grant::Read, &kept, NOW, 30);
        let at_storage = marker::verify(&f.key, m.as_bytes(), &path, NOW).expect("verify");
        let consented =
            consent::consented_headers(&f.storage_request, &f.signing.forwarded_request_headers);
        let Ok(Signed::Yes(rw)) = prepare::prepare(
            &f.signing,
            Some(&f.creds),
            &consented,
            Body::None,
            NOW,
            &mut cache,
        ) else {
            panic!("signs");
        };
        let map = rw.applied_to(&consented);
        let kept = carry::parse(&at_storage.carried);
        let rules = consent::AnswerRules {
            hide: &f.signing.hide_response_headers,
            kept: &kept,
            ..consent::AnswerRules::default()
        };
        let answer = consent::client_answer(&storage_answer, &rules).map_or(0, |a| a.len());
        (map.len() + answer) as u64
    });
    // Flow C: a signing edge signs the client's request as it is (all headers).
    r.piece("storage_prepare_flow_c", || {
        prepare(&f, &f.storage_request, &mut cache)
    });

    // Flow C as `make bench`'s variant (c) signs: the request wrk sends
    // (Host only) with the headers Envoy adds, no bucket mapping
    // (host.mjs's scenario c replays the same through the whole module).
    let edge_cfg = Config::parse(SIGNING_EDGE_CONFIG.as_bytes(), &NoEnv).expect("edge config");
    let edge = edge_cfg.signing.expect("signing");
    let bench_c = owned(&[
        (":authority", "127.0.0.1:10001"),
        (":path", "/bench/obj.bin"),
        (":method", "GET"),
        (":scheme", "http"),
        ("x-forwarded-proto", "http"),
        ("x-request-id", "2f0c5d1e-8a4b-4c3e-9f1a-6b7d8e9f0a1b"),
        ("x-envoy-expected-rq-timeout-ms", "15000"),
    ]);
    r.piece("storage_prepare_bench_c", || {
        match prepare::prepare(&edge, Some(&f.creds), &bench_c, Body::None, NOW, &mut cache) {
            Ok(Signed::Yes(rw)) => rw
                .set
                .iter()
                .flat_map(|s| s.iter())
                .map(|(_, v)| v.len() as u64)
                .sum::<u64>(),
            other => panic!("not signed: {other:?}"),
        }
    });

    // ---- where the signing time goes (experiment b) ----
    let creq = sig.canonical_request.as_bytes();
    let sts = sig.string_to_sign.as_bytes();
    let signing_key = sigv4::derive_signing_key(
        &f.creds.secret_access_key,
        &sig.string_to_sign[17..25],
        "us-east-1",
        "s3",
    )
    .expect("key");
    let keyed_marker = HmacSha256::new_from_slice(&SECRET).expect("key");
    let id = MarkerKey::new(&SECRET).id().to_owned();
    let keyed_signing = HmacSha256::new_from_slice(&signing_key).expect("key");
    r.piece("sha256_compress_1block", || {
        let mut state = [0x6a09e667u32; 8];
        let block = [sha2::digest::generic_array::GenericArray::from(
            [0x61u8; 64],
        )];
        sha2::compress256(black_box(&mut state), black_box(&block));
        u64::from(state[0])
    });
    r.piece("sha256_canonical_request", || {
        u64::from(Sha256::digest(black_box(creq))[0])
    });
    r.piece("sha256_hex_canonical_request", || {
        sigv4::sha256_hex(black_box(creq)).len() as u64
    });
    r.piece("hmac_new_from_slice", || {
        let m = HmacSha256::new_from_slice(black_box(&SECRET)).expect("key");
        black_box(&m);
        1
    });
    r.piece("hmac_keyed_clone", || {
        let m = black_box(&keyed_marker).clone();
        black_box(&m);
        1
    });
    r.piece("hmac_sts_fresh_key", || {
        u64::from(
            hmac_once(
                HmacSha256::new_from_slice(&signing_key).expect("key"),
                black_box(sts),
            )[0],
        )
    });
    r.piece("hmac_sts_cloned_key", || {
        u64::from(hmac_once(black_box(&keyed_signing).clone(), black_box(sts))[0])
    });
    r.piece("marker_mac_fresh_key", || {
        let m = HmacSha256::new_from_slice(black_box(&SECRET)).expect("key");
        u64::from(marker_mac(m, &id, &expires_at, PATH, &f.carried)[0])
    });
    r.piece("marker_mac_cloned_key", || {
        let m = black_box(&keyed_marker).clone();
        u64::from(marker_mac(m, &id, &expires_at, PATH, &f.carried)[0])
    });
    r.piece("sign_headers_cached_key", || {
        let to_sign: Vec<(&str, &str)> = vec![("host", "127.0.0.1:8333")];
        let req = sigv4::Request {
            method: "GET",
            path: "/assets/photos/2026/1.jpg",
            query: "",
            headers: &to_sign,
        };
        let scope = sigv4::Scope {
            region: "us-east-1",
            service: "s3",
        };
        let opts = sigv4::HeaderSigning {
            payload_hash: sigv4::UNSIGNED_PAYLOAD,
            add_content_sha256_header: true,
            session_token_signed: true,
        };
        sigv4::sign_headers(&req, &f.creds, &scope, NOW, &opts, &mut cache)
            .map_or(0, |h| h.iter().count() as u64)
    });

    // The marker with the HMAC keyed once and hex into sized buffers
    // (prototypes above; same output as marker::issue / verify).
    assert_eq!(
        issue_prototype(&keyed_marker, &id, PATH, &f.carried, NOW, 30),
        f.marker,
        "the prototype issues the same marker"
    );
    assert_eq!(
        verify_prototype(&keyed_marker, &id, f.marker.as_bytes(), PATH, NOW).as_deref(),
        Some(f.carried.as_slice())
    );
    r.piece("marker_issue_prototype", || {
        issue_prototype(&keyed_marker, &id, PATH, &f.carried, NOW, 30).len() as u64
    });
    r.piece("marker_verify_prototype", || {
        verify_prototype(&keyed_marker, &id, f.marker.as_bytes(), PATH, NOW)
            .map_or(0, |c| c.len() as u64)
    });
    let carried_hex = hex::encode(&f.carried);
    r.piece("hex_encode_carried", || {
        hex::encode(black_box(&f.carried)).len() as u64
    });
    r.piece("hex_encode_to_slice_carried", || {
        let mut out = vec![0u8; 2 * f.carried.len()];
        hex::encode_to_slice(black_box(&f.carried), &mut out).expect("sized");
        String::from_utf8(out).map_or(0, |s| s.len() as u64)
    });
    r.piece("hex_encode_table_carried", || {
        let mut out = vec![0u8; 2 * f.carried.len()];
        hex_into(&mut out, black_box(&f.carried));
        String::from_utf8(out).map_or(0, |s| s.len() as u64)
    });
    r.piece("hex_decode_carried", || {
        hex::decode(black_box(&carried_hex)).map_or(0, |v| v.len() as u64)
    });
    r.piece("hex_decode_to_slice_carried", || {
        let mut out = vec![0u8; carried_hex.len() / 2];
        hex::decode_to_slice(black_box(&carried_hex), &mut out).map_or(0, |()| out.len() as u64)
    });
    r.piece("hex_decode_table_carried", || {
        let mut out = vec![0u8; carried_hex.len() / 2];
        unhex_into(&mut out, black_box(carried_hex.as_bytes())).map_or(0, |()| out.len() as u64)
    });

    // ---- sign_headers step by step (public building blocks) ----
    let scope = sigv4::Scope {
        region: "us-east-1",
        service: "s3",
    };
    let amz = sigv4::amz_date(NOW).expect("date");
    let sig_headers: Vec<(&str, &str)> = vec![
        ("host", "127.0.0.1:8333"),
        ("x-amz-content-sha256", sigv4::UNSIGNED_PAYLOAD),
        ("x-amz-date", &amz),
    ];
    let canon = sigv4::canonical_headers(&sig_headers).expect("headers");
    let uri = sigv4::canonical_uri("/assets/photos/2026/1.jpg", sigv4::PathRules::S3).expect("uri");
    let scope_str = sigv4::credential_scope(&amz[..8], &scope);
    r.piece("sig_amz_date", || {
        sigv4::amz_date(black_box(NOW)).map_or(0, |d| d.len() as u64)
    });
    r.piece("sig_canonical_uri", || {
        sigv4::canonical_uri(black_box("/assets/photos/2026/1.jpg"), sigv4::PathRules::S3)
            .map_or(0, |u| u.len() as u64)
    });
    r.piece("sig_canonical_query_empty", || {
        sigv4::canonical_query(black_box("")).map_or(0, |q| q.len() as u64 + 1)
    });
    r.piece("sig_canonical_headers", || {
        sigv4::canonical_headers(black_box(&sig_headers)).map_or(0, |h| h.block.len() as u64)
    });
    r.piece("sig_canonical_request", || {
        sigv4::canonical_request("GET", &uri, "", black_box(&canon), sigv4::UNSIGNED_PAYLOAD).len()
            as u64
    });
    r.piece("sig_credential_scope", || {
        sigv4::credential_scope(black_box(&amz[..8]), &scope).len() as u64
    });
    r.piece("sig_string_to_sign", || {
        sigv4::string_to_sign(&amz, &scope_str, black_box(&sig.canonical_request)).len() as u64
    });
    r.piece("sig_hmac_hex", || {
        sigv4::hmac_hex(&signing_key, black_box(sts)).map_or(0, |h| h.len() as u64)
    });
    r.piece("sig_authorization_format", || {
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope_str}, SignedHeaders={}, Signature={}",
            f.creds.access_key_id,
            black_box(&canon.signed),
            black_box(&sig.signature)
        )
        .len() as u64
    });

    // canonical headers' string building: char by char (as today) or byte-wise.
    let mut a = String::new();
    let mut b = String::new();
    for (n, v) in &sig_headers {
        lowercase_chars(&mut a, n);
        trimmed_chars(&mut a, v);
        lowercase_bytes(&mut b, n);
        trimmed_bytes(&mut b, v);
    }
    assert_eq!(a, b, "byte-wise building gives the same block");
    r.piece("canon_build_chars", || {
        let mut out = String::with_capacity(128);
        for (n, v) in black_box(&sig_headers) {
            lowercase_chars(&mut out, n);
            out.push(':');
            trimmed_chars(&mut out, v);
            out.push('\n');
        }
        out.len() as u64
    });
    r.piece("canon_build_bytes", || {
        let mut out = String::with_capacity(128);
        for (n, v) in black_box(&sig_headers) {
            lowercase_bytes(&mut out, n);
            out.push(':');
            trimmed_bytes(&mut out, v);
            out.push('\n');
        }
        out.len() as u64
    });

    // ---- what the Trace log level costs (experiment c) ----
    // auth_backend.rs: `log::debug!("asset-gate: internal redirect to {path}")`
    // runs on every flow A request; at Info it is one atomic load.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    r.piece("log_debug_at_trace", || {
        log::debug!("asset-gate: internal redirect to {}", black_box(PATH));
        1
    });
    log::set_max_level(log::LevelFilter::Info);
    r.piece("log_debug_at_info", || {
        log::debug!("asset-gate: internal redirect to {}", black_box(PATH));
        1
    });

    println!("checksum {:#018x}", r.checksum);
}
