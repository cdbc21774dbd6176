"""What `make demo` (demo/run.py) and `make storage` (demo/storage.py)
share: ports from the environment, child processes in the foreground, and
a local SeaweedFS S3 that enforces SigV4.

Children run in this script's process group, so Ctrl-C (or a signal to the
group) reaches every one of them even if the script is killed outright;
their logs go to files in a temporary directory, removed on exit.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("ASSET_GATE_VENV", os.path.join(ROOT, ".venv"))
BIN = os.path.join(VENV, "bin")

# The one key pair SeaweedFS accepts (full rights on every bucket), and the
# region Envoy signs for: local, never secret.
ACCESS_KEY = "AKIDASSETGATEDEMO"
SECRET_KEY = "asset-gate-demo-secret-key"
REGION = "us-east-1"


def port(name, default):
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"{name}={value!r} is not a TCP port")
    return int(value)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, what, timeout=30, ok=lambda status: True):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if ok(r.status):
                    return
        except urllib.error.HTTPError as e:
            if ok(e.code):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up at {url}")


def s3_client(s3_port):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


class Stack:
    """Child processes started in the foreground and stopped together.

        with Stack("asset-gate-demo-") as stack:
            stack.start("name", argv)
            ...
            stack.watch()  # until Ctrl-C or a child exits
    """

    def __init__(self, prefix):
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.children = []

    def __enter__(self):
        # Explicit handlers: a shell without job control starts background
        # jobs with SIGINT ignored, and Python would then never raise
        # KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        return self

    def __exit__(self, kind, value, tb):
        if kind is KeyboardInterrupt:
            print("\nstopping", flush=True)
        self.stop()
        return kind is KeyboardInterrupt

    def start(self, name, argv, **kw):
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)
        self.children.append((name, p))
        return p

    def stop(self):
        for _, p in reversed(self.children):
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 5
        for _, p in reversed(self.children):
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def watch(self):
        """Returns never: ends with Ctrl-C, or when a child exits (its log's tail on stderr)."""
        while True:
            for name, child in self.children:
                if child.poll() is not None:
                    with open(os.path.join(self.work, name + ".log")) as f:
                        sys.stderr.write("".join(f.readlines()[-30:]))
                    raise SystemExit(f"{name} exited with {child.returncode}")
            time.sleep(0.5)

    def seaweedfs(self, s3_port, bucket):
        """SeaweedFS (`weed mini`) with its S3 API on 127.0.0.1:s3_port,
        accepting only requests signed with ACCESS_KEY, one bucket; returns
        once a signed request finds the bucket. Its internal ports (master,
        volume, filer, gRPC, admin) are picked free."""
        identities = {"identities": [{"name": "local", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                                      "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
        config = os.path.join(self.work, "identities.json")
        with open(config, "w") as f:
            json.dump(identities, f)
        data = os.path.join(self.work, "data")
        os.makedirs(data)
        p = [free_port() for _ in range(9)]
        self.start("seaweedfs", [
            os.path.join(BIN, "weed"), "mini", "-dir=" + data,
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false", "-webdav=false",
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-debug.port=0",
            "-metricsPort=0", "-s3.debug.port=0", "-s3.config=" + config,
            "-bucket=" + bucket, f"-s3.port={s3_port}", f"-s3.port.grpc={p[0]}",
            f"-master.port={p[1]}", f"-master.port.grpc={p[2]}", f"-volume.port={p[3]}",
            f"-volume.port.grpc={p[4]}", f"-filer.port={p[5]}", f"-filer.port.grpc={p[6]}",
            f"-admin.port={p[7]}", f"-admin.port.grpc={p[8]}",
        ])
        wait_http(f"http://127.0.0.1:{s3_port}/", "SeaweedFS")
        s3 = s3_client(s3_port)
        for attempt in range(60):
            try:
                s3.head_bucket(Bucket=bucket)
                return
            except Exception as e:  # the bucket appears shortly after the API
                if attempt == 59:
                    raise SystemExit(f"SeaweedFS has no bucket {bucket}: {e}")
                time.sleep(0.5)
