#!/usr/bin/env python3
"""`make bench`: asset-gate side by side with Envoy's native SigV4 signer,
the wasm floor, the config-only flow A and nginx.

Everything runs on 127.0.0.1 with free ports and is stopped at the end (also
on an error or Ctrl-C). Writes bench/RESULTS.md and prints the same report.

1. Correctness probes: one request through every variant; the origin's
   access log shows what it received (signature, injected headers, the
   redirect), and SeaweedFS (SigV4 enforced) accepts each signature.
2. RPS and latency: wrk against each variant in interleaved rounds, after a
   warm-up, with a fast local origin (a second Envoy of direct responses):
   (a)-(e) asset-gate and the native signer, (f) and (g) the wasm floor
   (bench/floor: a no-op module, and one making only the host calls a
   signer needs), (h) the config-only flow A (Envoy alone:
   307 + x-internal-redirect, native signer), (n1) and (n2) one nginx worker
   (plain proxy_pass; X-Accel-Redirect to an internal location). Per-round
   paired differences and ratios give the cost over the floor and the peers.
3. One round against real SeaweedFS (a, b, c, e, h).
4. Streaming: a 1 GiB object in SeaweedFS downloaded through a, c and e;
   throughput and the Envoy's RSS before, during and after each download.

Settings (environment variables; defaults in brackets):
  BENCH_ROUNDS [6]  BENCH_DURATION [5] seconds  BENCH_WARMUP [2] seconds
  BENCH_CONNECTIONS [16]  BENCH_THREADS [1]  BENCH_BODY_BYTES [4096]
  BENCH_S3_ROUND [1] (0 skips it)  BENCH_STREAM_MIB [1024] (0 skips streaming)
  BENCH_STREAM_ROUNDS [3]  BENCH_OUTPUT [bench/RESULTS.md]
  BENCH_KEEP [0] (1 keeps the Envoy configs and logs, not the data, in /tmp)
  BENCH_FLOOR_WASM [target/wasm32-wasip1/bench-floor/bench_floor.wasm]
  BENCH_INSTRUCTIONS [300] requests per variant counted under callgrind
    after the load (bench/instructions.py; 0 skips it)
  ASSET_GATE_NGINX [/usr/sbin/nginx]
The machine may be shared. A round during which other processes used more
than BENCH_QUIET_PCT [25] % of a CPU (or the hypervisor stole it) counts as
disturbed: it is reported but repeated (at most BENCH_EXTRA_ROUNDS [3] times),
and before a repeat the harness waits for quiet (BENCH_QUIET_WAIT [60]
seconds in all).
Python standard library plus PyYAML and boto3 from the project venv; wrk;
nginx (Debian nginx-light, installed by `make setup`); valgrind.
"""
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import envoy_configs as ec  # noqa: E402
import instructions  # noqa: E402
from checks import body_callbacks, check_closed, check_origin, check_s3, provider_headers_reach_origin  # noqa: E402
from harness import (BIN, CREDS, FLOOR_SRC, NGINX_BIN, REGION, ROOT, WASM_SRC, Envoy, Nginx, Procs,  # noqa: E402
                     git_state, log, machine, seed_small, start_seaweedfs, wait_for)
from load import gate, interleaved_rounds, s3_round, streaming  # noqa: E402
from report import render  # noqa: E402
from settings import S  # noqa: E402
from variants import NGINX_VARIANTS, VARIANTS  # noqa: E402


def command_line():
    overrides = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ)
                         if k.startswith("BENCH_") and os.environ[k] != "")
    base = "make bench" if os.environ.get("MAKELEVEL") else ".venv/bin/python bench/run.py"
    return (overrides + " " + base).strip()


def main():
    # Loopback only: no HTTP proxy from the environment, for urllib, curl or boto3.
    for k in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        os.environ.pop(k, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    if not os.path.exists(WASM_SRC):
        sys.exit(f"{WASM_SRC} not found: run `make bench` (it builds the module)")
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: run `make bench` (it installs the Debian package wrk)")
    if not os.path.exists(FLOOR_SRC):
        sys.exit(f"{FLOOR_SRC} not found: run `make bench` (it builds the floor module from bench/floor)")
    if not os.access(NGINX_BIN, os.X_OK):
        sys.exit(f"{NGINX_BIN} not found: run `make setup` (it installs the Debian package nginx-light)")
    started = time.time()
    work = tempfile.mkdtemp(prefix="asset-gate-bench-")
    procs = Procs()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit("bench: hung up"))
    try:
        report = run(procs, work, started)
    except KeyboardInterrupt:
        log("interrupted; stopping every process")
        return 130
    except RuntimeError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        procs.stop_all()
        if S["keep"]:
            shutil.rmtree(os.path.join(work, "seaweedfs", "data"), ignore_errors=True)
            log(f"kept configs and logs in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    with open(S["output"], "w") as f:
        f.write(report)
    print(report, flush=True)
    log(f"wrote {os.path.relpath(S['output'], os.getcwd())} in {time.time() - started:.0f} s")
    return 0


def run(procs, work, started):
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "envoy": subprocess.run([os.path.join(BIN, "envoy"), "--version"], capture_output=True, text=True)
        .stdout.strip().split("version:")[-1].strip(),
        "git": git_state(),
        "command": command_line(),
    }
    # A private copy: the module may be rebuilt while the bench runs.
    wasm = os.path.join(work, "asset_gate.wasm")
    shutil.copyfile(WASM_SRC, wasm)
    with open(wasm, "rb") as f:
        blob = f.read()
    info["wasm_size"] = len(blob)
    info["wasm_sha256"] = hashlib.sha256(blob).hexdigest()[:16]
    floor_wasm = os.path.join(work, "bench_floor.wasm")
    shutil.copyfile(FLOOR_SRC, floor_wasm)
    info["floor_size"] = os.path.getsize(floor_wasm)
    with open(os.path.join(ROOT, "Cargo.lock")) as f:
        m = re.search(r'name = "proxy-wasm"\nversion = "([^"]+)"', f.read())
    info["floor_sdk"] = m.group(1) if m else "?"
    info["nginx"] = subprocess.run([NGINX_BIN, "-v"], capture_output=True, text=True).stderr.strip() \
        .split("version:")[-1].strip()

    body = (b"asset-gate bench object " * (S["body"] // 24 + 1))[:S["body"]].decode()
    token = "eyJhbGciOiJSUzI1NiJ9." + hashlib.sha512(b"bench").hexdigest() * 4  # a JWT-sized value
    injected = {"x-idp-token": token, "x-tenant": "bench"}
    provider = json.dumps(injected)
    info["injected_desc"] = f"{len(injected)} headers, {sum(len(k) + len(v) for k, v in injected.items())} bytes"

    log("starting SeaweedFS and the origin Envoy")
    weed = start_seaweedfs(procs, work)
    origin_log = os.path.join(work, "origin-access.log")
    # Frequent log flushes: only the probes are logged, and they are awaited.
    origin = Envoy(procs, work, "origin", ec.origin_config(body, provider, origin_log),
                   ["--file-flush-interval-msec", "100"])
    origin_port = origin.ports["origin"]
    seed_small(weed, body.encode())
    log("starting the Envoy under test")
    envoy = Envoy(procs, work, "envoy", ec.bench_config(wasm, floor_wasm, origin_port, weed.s3_port, CREDS, REGION,
                                                        "60s"))
    log("starting nginx")
    nginx = Nginx(procs, work, origin_port)
    proxies = {v: nginx if v in NGINX_VARIANTS else envoy for v, _ in VARIANTS}
    bench_pids = [envoy.pid, origin.pid, weed.pid, nginx.pid, nginx.worker]
    log("Envoy under test is ready; waiting for the first header-provider poll")
    wait_for("the first header-provider poll", 10,
             lambda: gate(envoy.stats(), {}, "header_polls_ok") >= 1, envoy.proc, envoy.log_path)
    # A poll counted is one VM's; the worker's VM takes its own first poll on
    # its own tick: wait until (d)'s requests carry the provider's headers.
    wait_for("(d) to inject the provider's headers", 15,
             lambda: provider_headers_reach_origin(proxies["d"], origin_log, token), envoy.proc, envoy.log_path)

    log("correctness probes")
    probes = check_origin(proxies, origin_log, body.encode(), token)
    probes_closed = check_closed(proxies)
    s3_checks = check_s3(envoy, weed, body.encode())

    rounds, load = interleaved_rounds(procs, proxies, origin, bench_pids)
    s3 = s3_round(procs, envoy, origin, bench_pids)
    stream = streaming(procs, work, envoy, weed) if S["stream_mib"] else None

    instr = count_instructions()

    with open(envoy.log_path, errors="replace") as f:
        info["envoy_log_problems"] = [l.rstrip() for l in f
                                      if re.search(r"\[(error|critical)\]|panicked|wasm.*(fail|abort)", l)]
    nginx.alive()
    with open(nginx.log_path, errors="replace") as f:
        info["nginx_log_problems"] = [l.rstrip() for l in f if re.search(r"\[(error|crit|alert|emerg)\]", l)]
    info["body_callbacks"] = body_callbacks()
    info["elapsed"] = time.time() - started
    return render(info, probes, probes_closed, s3_checks, rounds, load, s3, stream, instr)


def count_instructions():
    """Instructions per request of the same module under callgrind
    (bench/instructions.py): the run's repeatable figures beside its timed
    ones. `None` when skipped, the reason as a string when it failed."""
    if not S["instructions"]:
        return None
    if shutil.which("valgrind") is None:
        return "valgrind not found (`make bench` installs it)"
    log(f"instructions per request under callgrind ({S['instructions']} requests per variant)")
    try:
        return instructions.measure(WASM_SRC, FLOOR_SRC, S["instructions"], instructions.VARIANTS)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - reported, the timed run stands
        return f"counting failed: {e}"


if __name__ == "__main__":
    sys.exit(main())
