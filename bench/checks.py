"""Correctness checks before the load: one probe per variant (what the origin
received), the peers' internal locations closed to clients, SeaweedFS
accepting each signature, and no body callback in asset-gate's source.

A failed check stops the run: figures of a variant that does not do its job
would mean nothing.
"""
import json
import os
import re
import time

import envoy_configs as ec
from harness import CREDS, REGION, ROOT, http, wait_for
from variants import FLOOR_SIGNED, PATHS, SIGNED, TWO_HOPS, VARIANTS


def provider_headers_reach_origin(proxy, origin_log, token):
    """Whether a request through (d) reaches the origin with the provider's
    token (asked once per call; the origin logs it as probe `d-ready`)."""
    http(proxy.url("d", PATHS["d"]), {"x-bench-probe": "d-ready"})
    time.sleep(0.3)  # the origin flushes its access log every 100 ms
    with open(origin_log) as f:
        entries = [json.loads(line) for line in f]
    return any(e.get("probe") == "d-ready" and e.get("x_idp_token") == token for e in entries)


def check_origin(proxies, origin_log, body, token):
    """One probe per variant; the origin's access log shows what it received."""
    for v, _ in VARIANTS:
        status, got = http(proxies[v].url(v, PATHS[v]), {"x-bench-probe": v})
        if status != 200 or got != body:
            raise RuntimeError(f"probe through ({v}) answered {status} with {len(got)} bytes")
    seen = {}

    def logged():
        seen.clear()
        with open(origin_log) as f:
            for line in f:
                entry = {k: ("" if x is None else str(x)) for k, x in json.loads(line).items()}
                seen.setdefault(entry["probe"], []).append(entry)
        return all(v in seen for v, _ in VARIANTS) and all(len(seen[v]) >= 2 for v in TWO_HOPS)

    wait_for("the origin's access log", 10, lambda: os.path.exists(origin_log) and logged())
    rows, problems = [], []
    for v, _ in VARIANTS:
        for entry in seen[v]:
            auth = entry["authorization"]
            signed = auth.startswith(f"AWS4-HMAC-SHA256 Credential={CREDS[0]}/") and f"/{REGION}/s3/aws4_request" in auth
            sh = re.search(r"SignedHeaders=([^,]+)", auth)
            rows.append({
                "variant": v, "path": entry["path"], "signed": signed,
                # The floor sets a constant of a signature's shape, dated 2026-01-01.
                "floor": signed and entry["x_amz_date"] == "20260101T000000Z",
                "signed_headers": sh.group(1) if sh else "",
                "payload": entry["x_amz_content_sha256"],
                "token": entry["x_idp_token"] == token,
                "marker": entry["marker"] not in ("-", ""),
            })
        is_auth = lambda r: r["path"].startswith(("/assets/", ec.SEED_PREFIX, ec.CACHED_PREFIX))  # noqa: E731
        mine = [r for r in rows if r["variant"] == v]
        storage = [r for r in mine if not is_auth(r)]
        if len(storage) != 1:
            problems.append(f"({v}): {len(storage)} storage requests at the origin")
        for r in storage:
            if r["path"] != ec.OBJECT_PATH:
                problems.append(f"({v}): storage was asked for {r['path']}")
            if r["signed"] != (v in SIGNED + FLOOR_SIGNED) or r["floor"] != (v in FLOOR_SIGNED):
                problems.append(f"({v}): signed={r['signed']} floor constant={r['floor']} at the origin")
            if r["token"] != (v == "d"):
                problems.append(f"({v}): x-idp-token present={r['token']}")
            if r["marker"]:
                problems.append(f"({v}): the marker reached storage")
            if v in SIGNED + FLOOR_SIGNED and r["payload"] != "UNSIGNED-PAYLOAD":
                problems.append(f"({v}): x-amz-content-sha256={r['payload']}")
        if v in TWO_HOPS and not any(is_auth(r) and not r["signed"] for r in mine):
            problems.append(f"({v}): the auth backend was not asked")
    if problems:
        raise RuntimeError("correctness probes failed: " + "; ".join(problems))
    return rows


def check_closed(proxies):
    """The peers' internal locations are closed to clients (else they would not be flow A)."""
    cases = [
        ("(h) internal route, client sends `x-internal-redirect: true` (`internal_only_headers` drops it)", "h",
         "/internal-assets/obj.bin", {ec.MARKER: "true"}),
        ("(n2) `internal` location, asked directly", "n2", "/internal-assets/obj.bin", {}),
    ]
    rows = []
    for what, v, path, headers in cases:
        status, _ = http(proxies[v].url(v, path), headers)
        if status != 404:
            raise RuntimeError(f"{what}: answered {status}, expected 404")
        rows.append((what, path, status))
    return rows


def check_s3(envoy, weed, body):
    """SeaweedFS enforces SigV4 on the bucket `private`: only valid signatures read it."""
    p = ec.PRIVATE_BUCKET
    cases = [
        ("SeaweedFS directly, unsigned", f"http://127.0.0.1:{weed.s3_port}/{p}/obj.bin", 403),
        ("(a) plain proxy", envoy.url("a_s3", f"/{p}/obj.bin"), 403),
        ("(a) plain proxy, anonymous bucket `bench`", envoy.url("a_s3", "/bench/obj.bin"), 200),
        ("(b) native signer", envoy.url("b_s3", f"/{p}/obj.bin"), 200),
        ("(c) asset-gate signing", envoy.url("c_s3", f"/{p}/obj.bin"), 200),
        ("(e) asset-gate flow A", envoy.url("e_s3", f"/assets/{p}/obj.bin"), 200),
        ("(h) config-only flow A, native signer", envoy.url("h_s3", f"{ec.SEED_PREFIX}{p}/obj.bin"), 200),
    ]
    rows = []
    for what, url, want in cases:
        status, got = http(url)
        ok = status == want and (want != 200 or got == body)
        if not ok:
            raise RuntimeError(f"SeaweedFS check {what}: {status} ({len(got)} bytes), expected {want}")
        rows.append((what, url.split(":", 2)[2].split("/", 1)[1], status))
    return rows


def body_callbacks():
    """Lines of crates/ that define body callbacks (asset-gate must have none)."""
    hits = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, "crates")):
        for name in sorted(files):
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                with open(path, errors="replace") as f:
                    for no, line in enumerate(f, 1):
                        if re.search(r"on_http_(request|response)_body", line):
                            hits.append(f"{os.path.relpath(path, ROOT)}:{no}: {line.strip()}")
    return hits
