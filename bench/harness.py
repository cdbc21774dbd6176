"""The bench's process harness: paths and constants every bench script shares,
the children it starts (Envoy, nginx, SeaweedFS) and what it reads about them
from /proc.

Every child runs in its own process group and dies with the script that
started it (also on SIGKILL), so that a crashed or interrupted bench leaves
nothing listening. Used by bench/run.py (`make bench`) and
bench/instructions.py (`make bench-instructions`).
"""
import ctypes
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ in the work tree
import envoy_configs as ec  # noqa: E402

ROOT = os.path.dirname(HERE)
VENV = os.environ.get("ASSET_GATE_VENV", os.path.join(ROOT, ".venv"))
BIN = os.path.join(VENV, "bin")
WASM_SRC = os.environ.get("ASSET_GATE_WASM", os.path.join(ROOT, "dist", "asset_gate.wasm"))
# Where `cargo build --profile bench-floor --target wasm32-wasip1 -p bench-floor` puts the floor in the workspace.
FLOOR_DEFAULT = os.path.join(ROOT, "target", "wasm32-wasip1", "bench-floor", "bench_floor.wasm")
FLOOR_SRC = os.environ.get("BENCH_FLOOR_WASM") or FLOOR_DEFAULT
NGINX_BIN = os.environ.get("ASSET_GATE_NGINX") or "/usr/sbin/nginx"
# The bench's own static credentials: SeaweedFS knows them, every signer uses them.
CREDS = ("AKIDASSETGATEBENCH", "asset-gate-bench-secret-key")
REGION = "us-east-1"
MIB = 1 << 20


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    # Children die with this script even if it is killed outright (SIGKILL).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Procs:
    """Every child this script starts, each in its own process group."""

    def __init__(self):
        self.live = []

    def start(self, name, argv, log_path=None, **kw):
        out = open(log_path, "wb") if log_path else subprocess.DEVNULL
        try:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
                                 stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_child_setup, **kw)
        finally:
            if log_path:
                out.close()
        p.bench_name = name
        self.live.append(p)
        return p

    def run(self, name, argv, timeout):
        """Runs a short-lived child to completion; returns (returncode, stdout)."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True, preexec_fn=_child_setup)
        p.bench_name = name
        self.live.append(p)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(p)
            raise RuntimeError(f"{name} did not finish within {timeout}s")
        self.live.remove(p)
        if p.returncode != 0 and err:
            log(f"{name}: {err.decode(errors='replace').strip()[-500:]}")
        return p.returncode, out.decode(errors="replace")

    def stop(self, p, grace=5.0):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in reversed(list(self.live)):
            self.stop(p)


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http(url, headers=None, timeout=10):
    """(status, body) of a GET; status 0 when nothing answered."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def wait_for(what, timeout, ready, proc=None, log_path=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            if ready():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}\n{tail(log_path)}")


def tail(path, n=30):
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        lines = [l for l in f if "[source/server/server.cc:4" not in l and "[source/server/server.cc:5" not in l]
    return "".join(lines[-n:])


class Envoy:
    def __init__(self, procs, work, name, config, extra_args=()):
        self.name = name
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.config_path = os.path.join(self.dir, "envoy.yaml")
        with open(self.config_path, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        self.log_path = os.path.join(self.dir, "envoy.log")
        admin_file = os.path.join(self.dir, "admin.txt")
        self.proc = procs.start(name, [
            os.path.join(BIN, "envoy"), "-c", self.config_path, "--concurrency", "1", "--disable-hot-restart",
            "--log-level", "warn", "--admin-address-path", admin_file, *extra_args,
        ], log_path=self.log_path)
        self.pid = self.proc.pid
        wait_for(f"{name} admin address", 60, lambda: os.path.getsize(admin_file) > 0, self.proc, self.log_path)
        with open(admin_file) as f:
            self.admin = "http://" + f.read().strip()
        wait_for(f"{name} /ready", 60, lambda: http(self.admin + "/ready")[0] == 200, self.proc, self.log_path)
        listeners = json.loads(http(self.admin + "/listeners?format=json")[1])
        self.ports = {l["name"]: l["local_address"]["socket_address"]["port_value"]
                      for l in listeners["listener_statuses"]}

    def url(self, listener, path):
        return f"http://127.0.0.1:{self.ports[listener]}{path}"

    def stats(self):
        status, body = http(self.admin + "/stats", timeout=10)
        if status != 200:
            raise RuntimeError(f"{self.name} /stats answered {status}")
        out = {}
        for line in body.decode().splitlines():
            name, _, value = line.partition(": ")
            if value.isdigit():
                out[name] = int(value)
        return out

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail(self.log_path)}")

    @property
    def cpu_pids(self):
        """The processes whose CPU time is this proxy's cost."""
        return [self.pid]


class Nginx:
    """nginx with one worker, foreground master, everything in its own directory (like e2e/harness/nginx.rs).

    Listeners `n1` (plain proxy_pass) and `n2` (X-Accel-Redirect); its cost is
    the worker's CPU time (the master only waits for signals).
    """

    def __init__(self, procs, work, origin_port):
        self.name = "nginx"
        self.dir = os.path.join(work, "nginx")
        os.makedirs(self.dir)
        # As root, nginx's workers run as an unprivileged user: they must be
        # able to reach the temp paths (nginx creates and chowns them itself).
        if os.geteuid() == 0:
            os.chmod(work, 0o755)
            os.chmod(self.dir, 0o755)
        n1, n2 = free_ports(2)
        self.ports = {"n1": n1, "n2": n2}
        self.config_path = os.path.join(self.dir, "nginx.conf")
        with open(self.config_path, "w") as f:
            f.write(ec.nginx_config(self.dir, origin_port, n1, n2))
        self.log_path = os.path.join(self.dir, "error.log")
        self.proc = procs.start("nginx", [NGINX_BIN, "-p", self.dir + "/", "-c", self.config_path,
                                          "-e", self.log_path], log_path=os.path.join(self.dir, "stderr.log"))
        self.pid = self.proc.pid

        def listening():
            for port in (n1, n2):
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
            return True

        wait_for("nginx listening", 20, listening, self.proc, self.log_path)
        wait_for("the nginx worker", 20, lambda: len(self._workers()) == 1, self.proc, self.log_path)
        self.worker = self._workers()[0]

    def _workers(self):
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.pid:
                    kids.append(int(entry))
        return kids

    def url(self, listener, path):
        return f"http://127.0.0.1:{self.ports[listener]}{path}"

    def stats(self):
        return {}

    def alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{tail(self.log_path)}")
        if self._workers() != [self.worker]:
            raise RuntimeError(f"the nginx worker {self.worker} was replaced:\n{tail(self.log_path)}")

    @property
    def cpu_pids(self):
        return [self.worker]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def system_cpu():
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat.

    Busy includes irq and softirq time: without CONFIG_IRQ_TIME_ACCOUNTING the
    softirq work done in a process's context (loopback networking) is charged
    to that process's stime but counted as softirq here. With it, the bench's
    own loopback softirq (about 10 % of a CPU) counts as "other".
    """
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = v
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def self_cpu():
    t = os.times()
    return t.user + t.system


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------- SeaweedFS

def start_seaweedfs(procs, work):
    d = os.path.join(work, "seaweedfs")
    os.makedirs(os.path.join(d, "data"))
    identities = {"identities": [
        {"name": "bench", "credentials": [{"accessKey": CREDS[0], "secretKey": CREDS[1]}],
         "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
        # Anonymous reads of the bucket `bench` only, so the plain proxy (a)
        # can fetch the same objects unsigned; `private` needs a signature.
        {"name": "anonymous", "actions": ["Read:bench"]},
    ]}
    with open(os.path.join(d, "identities.json"), "w") as f:
        json.dump(identities, f)
    p = free_ports(10)
    log_path = os.path.join(d, "weed.log")
    proc = procs.start("seaweedfs", [
        os.path.join(BIN, "weed"), "mini", "-dir=" + os.path.join(d, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-master.telemetry=false", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-debug.port=0", "-metricsPort=0", "-s3.debug.port=0", "-s3.config=" + os.path.join(d, "identities.json"),
        f"-bucket=bench,{ec.PRIVATE_BUCKET}", f"-s3.port={p[0]}", f"-s3.port.grpc={p[1]}", f"-master.port={p[2]}",
        f"-master.port.grpc={p[3]}", f"-volume.port={p[4]}", f"-volume.port.grpc={p[5]}", f"-filer.port={p[6]}",
        f"-filer.port.grpc={p[7]}", f"-admin.port={p[8]}", f"-admin.port.grpc={p[9]}",
    ], log_path=log_path)
    proc.s3_port = p[0]
    proc.log_path = log_path
    return proc


def s3_client(port):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=CREDS[0],
                        aws_secret_access_key=CREDS[1], region_name=REGION,
                        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))


def seed_small(weed, body):
    s3 = s3_client(weed.s3_port)

    def put():
        for bucket in ("bench", ec.PRIVATE_BUCKET):
            s3.put_object(Bucket=bucket, Key="obj.bin", Body=body)
        return True

    # The S3 API answers about 1.5 s after start; buckets shortly after.
    wait_for("SeaweedFS S3 API and buckets", 60, put, weed, weed.log_path)


# ---------------------------------------------------------------- the machine

def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {"nproc": os.cpu_count(), "model": model, "mem_gib": mem / (1 << 30),
            "kernel": platform.release()}


def git_state():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "crates", "Cargo.toml", "Cargo.lock"],
                               capture_output=True, text=True).stdout.strip()
        return head + (" with uncommitted changes in crates/ or Cargo files" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
