#!/usr/bin/env python3
"""`make demo`: SeaweedFS, the demo auth backend and Envoy with asset-gate,
in the foreground. Ctrl-C stops every child.

Ports (environment variables, defaults):
  ASSET_GATE_ASSETS_PORT  10000  assets flow listener
  ASSET_GATE_EDGE_PORT    10001  S3 signing edge listener
  ASSET_GATE_GATEWAY_PORT 10002  flow D gateway listener
  ASSET_GATE_HEADERS_PORT 10005  flow B header augmentation listener
  ASSET_GATE_ADMIN_PORT   9901   Envoy admin
  ASSET_GATE_S3_PORT      8333   SeaweedFS S3 API
  ASSET_GATE_AUTH_PORT    8081   demo auth backend
  ASSET_GATE_PROVIDER_PORT 8082  header provider
  ASSET_GATE_ECHO_PORT    8083   echo server
  ASSET_GATE_GATEWAY_AUTH_PORT 8084  flow D's demo auth backend
SeaweedFS's internal ports (master, volume, filer, gRPC) are picked free.
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

import yaml  # PyYAML comes with awscli in the project venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("ASSET_GATE_VENV", os.path.join(ROOT, ".venv"))
BIN = os.path.join(VENV, "bin")

ACCESS_KEY = "AKIDASSETGATEDEMO"
SECRET_KEY = "asset-gate-demo-secret-key"
BUCKET = "assets"
SAMPLES = {
    "hello.txt": b"Hello from asset-gate: this object was authorized by the backend and signed by Envoy.\n",
    "secret.txt": b"The demo auth backend denies this key to everyone.\n",
    "docs/readme.md": b"# nested key\n",
    "public/hello.txt": b"Hello from the signing edge: its scope is public/ only.\n",
}


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


def render_envoy(ports, wasm):
    with open(os.path.join(ROOT, "envoy", "demo.yaml")) as f:
        # S3's address inside filter configurations (the gateway's endpoint
        # and presigned URLs) follows ASSET_GATE_S3_PORT too.
        text = f.read().replace("localhost:8333", "localhost:%d" % ports["s3"])
        cfg = yaml.safe_load(text.replace("127.0.0.1:8333", "127.0.0.1:%d" % ports["s3"]))
    cfg["admin"]["address"]["socket_address"]["port_value"] = ports["admin"]
    listener_ports = {"assets": ports["assets"], "signing_edge": ports["edge"], "gateway": ports["gateway"],
                      "headers": ports["headers"]}
    for listener in cfg["static_resources"]["listeners"]:
        listener["address"]["socket_address"]["port_value"] = listener_ports[listener["name"]]
    cluster_ports = {"auth_backend": ports["auth"], "storage": ports["s3"], "s3_edge": ports["s3"],
                     "sidecar": ports["provider"], "echo": ports["echo"],
                     "gateway_auth": ports["gateway_auth"], "gateway_storage": ports["s3"]}
    for cluster in cfg["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for ep in group["lb_endpoints"]:
                ep["endpoint"]["address"]["socket_address"]["port_value"] = cluster_ports[cluster["name"]]
    text = yaml.safe_dump(cfg, sort_keys=False)
    return text.replace("dist/asset_gate.wasm", wasm)


def seed(s3_port):
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    for key, body in SAMPLES.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def main():
    ports = {
        "assets": port("ASSET_GATE_ASSETS_PORT", 10000),
        "edge": port("ASSET_GATE_EDGE_PORT", 10001),
        "gateway": port("ASSET_GATE_GATEWAY_PORT", 10002),
        "headers": port("ASSET_GATE_HEADERS_PORT", 10005),
        "admin": port("ASSET_GATE_ADMIN_PORT", 9901),
        "s3": port("ASSET_GATE_S3_PORT", 8333),
        "auth": port("ASSET_GATE_AUTH_PORT", 8081),
        "provider": port("ASSET_GATE_PROVIDER_PORT", 8082),
        "echo": port("ASSET_GATE_ECHO_PORT", 8083),
        "gateway_auth": port("ASSET_GATE_GATEWAY_AUTH_PORT", 8084),
    }
    wasm = os.environ.get("ASSET_GATE_WASM", os.path.join(ROOT, "dist", "asset_gate.wasm"))
    if not os.path.exists(wasm):
        sys.exit(f"{wasm} not found: run `make demo` (it builds the module)")
    work = tempfile.mkdtemp(prefix="asset-gate-demo-")
    children = []

    def start(name, argv, **kw):
        log = open(os.path.join(work, name + ".log"), "w")
        # Same process group as this script: Ctrl-C (or a signal to the
        # group) reaches every child even if this script is killed outright.
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kw)
        children.append((name, p))
        return p

    def stop(*_):
        for name, p in reversed(children):
            if p.poll() is None:
                p.terminate()
        deadline = time.time() + 5
        for name, p in reversed(children):
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)

    # Explicit handlers: a shell without job control starts background jobs
    # with SIGINT ignored, and Python would then never raise KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        identities = {"identities": [{"name": "demo", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                                      "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
        with open(os.path.join(work, "identities.json"), "w") as f:
            json.dump(identities, f)
        os.makedirs(os.path.join(work, "data"))
        p = [free_port() for _ in range(9)]
        start("seaweedfs", [
            os.path.join(BIN, "weed"), "mini", "-dir=" + os.path.join(work, "data"),
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false", "-webdav=false",
            "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-debug.port=0",
            "-metricsPort=0", "-s3.debug.port=0", "-s3.config=" + os.path.join(work, "identities.json"),
            "-bucket=" + BUCKET, f"-s3.port={ports['s3']}", f"-s3.port.grpc={p[0]}",
            f"-master.port={p[1]}", f"-master.port.grpc={p[2]}", f"-volume.port={p[3]}",
            f"-volume.port.grpc={p[4]}", f"-filer.port={p[5]}", f"-filer.port.grpc={p[6]}",
            f"-admin.port={p[7]}", f"-admin.port.grpc={p[8]}",
        ])
        backends = os.path.join(ROOT, "e2e", "fixtures", "backends.py")
        start("auth-backend", [sys.executable, backends, "auth", "--port", str(ports["auth"])])
        start("header-provider", [sys.executable, backends, "headers", "--port", str(ports["provider"])])
        start("echo", [sys.executable, backends, "echo", "--port", str(ports["echo"])])
        start("gateway-backend", [sys.executable, backends, "gateway", "--port", str(ports["gateway_auth"])])
        wait_http(f"http://127.0.0.1:{ports['s3']}/", "SeaweedFS")
        for attempt in range(60):
            try:
                seed(ports["s3"])
                break
            except Exception as e:  # the bucket appears shortly after the API
                if attempt == 59:
                    raise SystemExit(f"cannot seed the demo bucket: {e}")
                time.sleep(0.5)
        with open(os.path.join(work, "envoy.yaml"), "w") as f:
            f.write(render_envoy(ports, wasm))
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION="us-east-1")
        envoy = start("envoy", [os.path.join(BIN, "envoy"), "-c", os.path.join(work, "envoy.yaml"),
                                "--disable-hot-restart", "--concurrency", "2", "--log-level", "info"], env=env)
        wait_http(f"http://127.0.0.1:{ports['admin']}/ready", "Envoy", ok=lambda s: s == 200)
        a, e, adm, g, s3 = ports["assets"], ports["edge"], ports["admin"], ports["gateway"], ports["s3"]
        h = ports["headers"]
        print(f"""
asset-gate demo is up (logs in {work}). Try:

  # assets flow: the backend authorizes, Envoy streams from storage
  curl -i -H 'Authorization: Bearer demo-token' http://localhost:{a}/assets/hello.txt
  curl -i -H 'Cookie: session=demo-session'     http://localhost:{a}/assets/docs/readme.md
  curl -i                                       http://localhost:{a}/assets/hello.txt    # 403: no token
  curl -i -H 'Authorization: Bearer demo-token' http://localhost:{a}/assets/secret.txt   # 403: denied key
  curl -i -H 'x-internal-redirect: true' http://localhost:{a}/internal-assets/hello.txt  # spoof: 404
  curl -i -H 'Authorization: Bearer demo-token' 'http://localhost:{a}/assets/%2e%2e/hello.txt'  # unsafe: 404

  # header augmentation (its own listener): the provider's headers (x-idp-token, x-tenant) on every request
  curl -s http://localhost:{h}/echo/

  # signing edge: S3 clients with no credentials at all, within its scope (public/)
  curl -i http://localhost:{e}/{BUCKET}/public/hello.txt
  curl -s 'http://localhost:{e}/{BUCKET}?list-type=2&prefix=public/'
  curl -i -T README.md http://localhost:{e}/{BUCKET}/public/uploaded/README.md
  {BIN}/aws --no-sign-request --endpoint-url http://localhost:{e} s3 ls s3://{BUCKET}/public/ --recursive
  curl -i http://localhost:{e}/{BUCKET}/secret.txt   # 403: outside the edge's scope
  curl -i http://localhost:{ports['s3']}/{BUCKET}/hello.txt   # straight to S3: 403, it needs a signature

  # gateway (flow D): one filter asks the backend, then streams to storage, uploads too
  head -c 100000000 /dev/urandom > big.bin
  curl -i -T big.bin -H 'Authorization: Bearer demo-token' http://localhost:{g}/uploads/big.bin   # streamed upload
  curl -s -H 'Authorization: Bearer demo-token' http://localhost:{g}/uploads/big.bin | cmp - big.bin && echo same
  curl -i -T big.bin http://localhost:{g}/uploads/big.bin      # 403: no token, nothing reaches storage
  curl -i -H 'Authorization: Bearer demo-token' http://localhost:{g}/presigned/hello.txt   # 302 to a presigned URL
  curl -i "$(curl -s -o /dev/null -w '%{{redirect_url}}' -H 'Authorization: Bearer demo-token' http://localhost:{g}/presigned/hello.txt)"   # plain curl, straight to S3 :{s3}

  # metrics
  curl -s http://localhost:{adm}/stats | grep asset_gate

Ctrl-C stops everything.
""", flush=True)
        while True:
            for name, child in children:
                if child.poll() is not None:
                    with open(os.path.join(work, name + ".log")) as f:
                        sys.stderr.write("".join(f.readlines()[-30:]))
                    raise SystemExit(f"{name} exited with {child.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping the demo")
    finally:
        stop()


if __name__ == "__main__":
    main()
