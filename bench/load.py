"""Load: wrk rounds against each variant, what they cost the proxy in CPU,
and the statistics the report draws from them.

Rounds are interleaved (every variant once per round) so that drift on a
shared machine spreads over all variants, and comparisons are paired within
a round: per-round ratios and differences, then their median over rounds.
"""
import os
import re
import statistics
import threading
import time

import envoy_configs as ec
from harness import (MIB, Nginx, children_cpu, cpu_seconds, log, rss_bytes, s3_client, self_cpu,
                     system_cpu)
from settings import S
from variants import PATHS, VARIANTS

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}

# The proxy's CPU time per client request, the direct cost measure.
US = "proxy_cpu_us_per_rq"


def fmt_ms(ms):
    return f"{ms * 1000:.0f} µs" if ms < 1 else f"{ms:.2f} ms"

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_duration_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot parse wrk duration {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out):
    def grab(pattern):
        m = re.search(pattern, out, re.M)
        if not m:
            raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{out}")
        return m.group(1)

    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(grab(r"^Requests/sec:\s+([\d.]+)")),
        "p50": parse_duration_ms(grab(r"^\s+50%\s+(\S+)")),
        "p99": parse_duration_ms(grab(r"^\s+99%\s+(\S+)")),
        "requests": int(grab(r"^\s+(\d+) requests in")),
        "wrk_non2xx": int(re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1))
        if "Non-2xx" in out else 0,
        "socket_errors": sum(int(x) for x in m.groups()) if m else 0,
    }


def wrk_argv(url, duration):
    return ["wrk", f"-t{S['threads']}", f"-c{S['connections']}", f"-d{duration}s", "--latency", url]


def gate(s1, s0, counter):
    """An asset-gate counter summed over placements (wasmcustom.asset_gate.<placement>.<counter>)."""
    suffix = "." + counter
    return sum(v - s0.get(k, 0) for k, v in s1.items()
               if k.startswith("wasmcustom.asset_gate.") and k.endswith(suffix)
               and "." not in k[len("wasmcustom.asset_gate."):-len(suffix)])


def delta(after, before, name):
    return after.get(name, 0) - before.get(name, 0)


def load_round(procs, proxy, origin, bench_pids, listener, path, duration):
    """One wrk run against `proxy` (the Envoy under test or nginx); returns
    wrk's figures plus CPU use and, for Envoy, its own counts.

    `proxy_cpu_*` is the proxy's CPU (Envoy's process, or nginx's worker).
    `other_cpu_pct` is CPU time other processes used meanwhile: busy time
    from /proc/stat minus what the bench's own processes (`bench_pids`, this
    script and wrk) used; `steal_pct` is time the hypervisor gave to other
    guests.
    """
    proxy.alive()
    url = proxy.url(listener, path)
    mine = set(proxy.cpu_pids) | {origin.pid}
    rest = [p for p in bench_pids if p not in mine]
    ours = lambda: sum(cpu_seconds(p) for p in rest) + self_cpu()  # noqa: E731
    pcpu = lambda: sum(cpu_seconds(p) for p in proxy.cpu_pids)  # noqa: E731
    s0 = proxy.stats()
    m0, x0 = system_cpu(), ours()
    c0, o0, w0, t0 = pcpu(), cpu_seconds(origin.pid), children_cpu(), time.time()
    rc, out = procs.run(f"wrk {listener}", wrk_argv(url, duration), timeout=duration + 60)
    t1, c1, o1, w1 = time.time(), pcpu(), cpu_seconds(origin.pid), children_cpu()
    m1, x1 = system_cpu(), ours()
    s1 = proxy.stats()
    if rc != 0:
        raise RuntimeError(f"wrk failed on {url}:\n{out}")
    r = parse_wrk(out)
    wall = t1 - t0
    d = lambda name: delta(s1, s0, name)  # noqa: E731
    if isinstance(proxy, Nginx):
        # No counters: wrk's own (every request it completed, and those that
        # were not 2xx/3xx or failed on the socket).
        total = r["requests"]
        r.update({"envoy_received": total, "envoy_2xx": total - r["wrk_non2xx"]})
    else:
        total = d(f"http.{listener}.downstream_rq_completed")
    r.update({
        "proxy_cpu_pct": 100 * (c1 - c0) / wall,
        "origin_cpu_pct": 100 * (o1 - o0) / wall,
        "wrk_cpu_pct": 100 * (w1 - w0) / wall,
        # Clamped: clock-tick granularity can make a quiet machine look negative.
        "other_cpu_pct": max(0.0, 100 * ((m1[0] - m0[0]) - (c1 - c0) - (o1 - o0) - (w1 - w0) - (x1 - x0)) / wall),
        "steal_pct": 100 * (m1[1] - m0[1]) / wall,
        "proxy_cpu_us_per_rq": 1e6 * (c1 - c0) / max(total, 1),
        "envoy_completed": total,
        "signed": gate(s1, s0, "requests_signed"),
        "native_signed": sum(delta(s1, s0, k) for k in s1 if k.endswith("aws_request_signing.signing_added")),
        "redirects": gate(s1, s0, "redirects_converted"),
        "internal_redirects": sum(delta(s1, s0, k) for k in s1
                                  if k.endswith("upstream_internal_redirect_succeeded_total")),
        "injected": gate(s1, s0, "headers_injected"),
        "consents": gate(s1, s0, "auth_consents"),
        "cache_hits": gate(s1, s0, "decision_cache_hits"),
        "cluster_rq": {k.split(".")[1]: delta(s1, s0, k) for k in s1
                       if k.startswith("cluster.") and k.endswith(".upstream_rq_total") and k.count(".") == 2},
    })
    if isinstance(proxy, Nginx):
        r["non2xx"] = r["wrk_non2xx"] + r["socket_errors"]
    else:
        r.update({"envoy_received": d(f"http.{listener}.downstream_rq_total"),
                  "envoy_2xx": d(f"http.{listener}.downstream_rq_2xx")})
        r["non2xx"] = r["envoy_completed"] - r["envoy_2xx"]
    return r


def other_cpu_pct(pids, secs):
    """CPU (% of one CPU, plus steal) used by processes other than `pids` and this script over `secs`."""
    ours = lambda: sum(cpu_seconds(p) for p in pids) + self_cpu()  # noqa: E731
    m0, x0, t0 = system_cpu(), ours(), time.time()
    time.sleep(secs)
    m1, x1, t1 = system_cpu(), ours(), time.time()
    return 100 * ((m1[0] - m0[0]) - (x1 - x0) + (m1[1] - m0[1])) / (t1 - t0)


class QuietWaiter:
    """Waits for other processes to calm down, within one budget for the whole run."""

    def __init__(self, budget, pids):
        self.left, self.pids, self.waited = budget, pids, 0.0

    def wait(self):
        while self.left > 0:
            other = other_cpu_pct(self.pids, 1.0)
            if other <= S["quiet_pct"]:
                return True
            self.left -= 1
            self.waited += 1
            if self.waited % 10 == 1:
                log(f"other processes use {other:.0f} % of a CPU; waiting for quiet ({self.left:.0f} s of budget left)")
        return False

def interleaved_rounds(procs, proxies, origin, bench_pids):
    """A warm-up per variant, then interleaved rounds until `BENCH_ROUNDS` are
    undisturbed; returns ({variant: [round results used]}, the load summary)."""
    log(f"warm-up: {S['warmup']} s per variant")
    for v, _ in VARIANTS:
        if S["warmup"]:
            load_round(procs, proxies[v], origin, bench_pids, v, PATHS[v], S["warmup"])
    # Interleaved rounds. The machine may be shared: a round during which
    # other processes used more than BENCH_QUIET_PCT % of a CPU (or the
    # hypervisor stole it) is marked disturbed and repeated, at most
    # BENCH_EXTRA_ROUNDS times. Every round is listed in the report.
    all_rounds = []
    clean = 0
    quiet = QuietWaiter(S["quiet_wait"], bench_pids)
    quiet.wait()
    while clean < S["rounds"] and len(all_rounds) < S["rounds"] + S["extra_rounds"]:
        if all_rounds and all_rounds[-1]["disturbed"]:
            quiet.wait()
        res = {v: load_round(procs, proxies[v], origin, bench_pids, v, PATHS[v], S["duration"]) for v, _ in VARIANTS}
        other = max(r["other_cpu_pct"] + r["steal_pct"] for r in res.values())
        disturbed = other > S["quiet_pct"]
        clean += not disturbed
        all_rounds.append({"results": res, "other": other, "disturbed": disturbed})
        log(f"round {len(all_rounds)} ({clean}/{S['rounds']} undisturbed): " + "  ".join(
            f"{v} {res[v]['rps']:.0f} rps p99 {fmt_ms(res[v]['p99'])}" for v, _ in VARIANTS)
            + f"  other processes up to {other:.0f} % of a CPU" + ("  DISTURBED" if disturbed else ""))
    used = [r for r in all_rounds if not r["disturbed"]]
    if len(used) < min(5, S["rounds"]):
        log("WARNING: too few undisturbed rounds; the figures use every round and are unreliable")
        used = all_rounds
    rounds = {v: [r["results"][v] for r in used] for v, _ in VARIANTS}
    load = {"all": all_rounds, "used": len(used), "clean": clean, "waited": quiet.waited}
    return rounds, load


def s3_round(procs, envoy, origin, bench_pids):
    """One round of (a), (b), (c), (e), (h) against SeaweedFS; {} when `BENCH_S3_ROUND=0`."""
    results = {}
    if S["s3_round"]:
        log("one round against SeaweedFS")
        for v in ("a", "b", "c", "e", "h"):
            results[v] = load_round(procs, envoy, origin, bench_pids, f"{v}_s3", PATHS[v], S["duration"])
    return results


# ---------------------------------------------------------------- streaming

def make_big_file(path, mib):
    block = os.urandom(16 * MIB)
    with open(path, "wb") as f:
        left = mib * MIB
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def download(procs, envoy_pid, weed_pid, url, size):
    """curl to /dev/null; Envoy's VmRSS before, peak during (20 ms samples) and after."""
    ours = lambda: cpu_seconds(envoy_pid) + cpu_seconds(weed_pid) + self_cpu() + children_cpu()  # noqa: E731
    m0, x0, t0 = system_cpu(), ours(), time.time()
    before = rss_bytes(envoy_pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], rss_bytes(envoy_pid))
            except (OSError, RuntimeError):
                return
            done.wait(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        rc, out = procs.run("curl download", ["curl", "-sS", "--max-time", "600", "-o", "/dev/null", "-w",
                                              "%{http_code} %{size_download} %{time_total}", url], timeout=660)
    finally:
        done.set()
        t.join()
    after = rss_bytes(envoy_pid)
    m1, x1, t1 = system_cpu(), ours(), time.time()
    other = max(0.0, 100 * ((m1[0] - m0[0]) - (x1 - x0) + (m1[1] - m0[1])) / (t1 - t0))
    status, got, secs = out.split()
    if rc != 0 or status != "200" or int(got) != size:
        raise RuntimeError(f"download {url}: curl exit {rc}, status {status}, {got} of {size} bytes")
    secs = float(secs)
    return {"mib_s": size / MIB / secs, "secs": secs, "rss_before": before, "rss_after": after,
            "rss_peak": max(peak[0], after), "other": other}


def streaming(procs, work, envoy, weed):
    size = S["stream_mib"] * MIB
    big = os.path.join(work, ec.BIG_KEY)
    log(f"streaming: writing a {S['stream_mib']} MiB file and uploading it to SeaweedFS")
    t = time.time()
    make_big_file(big, S["stream_mib"])
    from boto3.s3.transfer import TransferConfig

    s3 = s3_client(weed.s3_port)
    s3.upload_file(big, "bench", ec.BIG_KEY,
                   Config=TransferConfig(multipart_threshold=64 * MIB, multipart_chunksize=64 * MIB, max_concurrency=4))
    if s3.head_object(Bucket="bench", Key=ec.BIG_KEY)["ContentLength"] != size:
        raise RuntimeError("uploaded object has the wrong size")
    os.remove(big)  # only SeaweedFS's copy is needed now
    upload_s = time.time() - t
    urls = {
        "direct": f"http://127.0.0.1:{weed.s3_port}/bench/{ec.BIG_KEY}",
        "a": envoy.url("a_s3", f"/bench/{ec.BIG_KEY}"),
        "c": envoy.url("c_s3", f"/bench/{ec.BIG_KEY}"),
        "e": envoy.url("e_s3", f"/assets/{ec.BIG_KEY}"),
    }
    signed0 = gate(envoy.stats(), {}, "requests_signed")
    log("streaming: warm-up download (SeaweedFS directly)")
    download(procs, envoy.pid, weed.pid, urls["direct"], size)
    results = {k: [] for k in urls}
    for i in range(S["stream_rounds"]):
        for k, url in urls.items():
            envoy.alive()
            results[k].append(download(procs, envoy.pid, weed.pid, url, size))
        log(f"streaming round {i + 1}/{S['stream_rounds']}: " + "  ".join(
            f"{k} {results[k][-1]['mib_s']:.0f} MiB/s" for k in urls)
            + f"  other processes up to {max(results[k][-1]['other'] for k in urls):.0f} % of a CPU")
    signed = gate(envoy.stats(), {}, "requests_signed") - signed0
    return {"size": size, "upload_s": upload_s, "results": results, "signed": signed}


class Paired:
    """Medians and paired (same-round) ratios and differences over rounds
    {variant: [round results]}."""

    def __init__(self, rounds):
        self.rounds = rounds

    def med(self, v, k):
        return statistics.median(r[k] for r in self.rounds[v])

    def ratio(self, x, y, k):
        """Ratio of the two variants' medians."""
        return self.med(x, k) / self.med(y, k)

    def pairs(self, x, y, k, op):
        return [op(a[k], b[k]) for a, b in zip(self.rounds[x], self.rounds[y])]

    def pratio(self, x, y, k):
        """Median over rounds of the ratio within each round."""
        return statistics.median(self.pairs(x, y, k, lambda a, b: a / b))

    def pdiff(self, x, y, k=US):
        """Median over rounds of the difference within each round."""
        return statistics.median(self.pairs(x, y, k, lambda a, b: a - b))

    def ratio_range(self, x, y, k):
        rs = self.pairs(x, y, k, lambda a, b: a / b)
        return min(rs), max(rs)

    def diff_range(self, x, y, k=US):
        ds = self.pairs(x, y, k, lambda a, b: a - b)
        return min(ds), max(ds)
