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
The processes and SeaweedFS are started by demo/stack.py, shared with
`make storage` (demo/storage.py).
"""
import os
import sys

import yaml  # PyYAML comes with awscli in the project venv

from stack import ACCESS_KEY, BIN, REGION, ROOT, SECRET_KEY, Stack, port, s3_client, wait_http

BUCKET = "assets"
SAMPLES = {
    "hello.txt": b"Hello from asset-gate: this object was authorized by the backend and signed by Envoy.\n",
    "secret.txt": b"The demo auth backend denies this key to everyone.\n",
    "docs/readme.md": b"# nested key\n",
    "public/hello.txt": b"Hello from the signing edge: its scope is public/ only.\n",
}


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
    s3 = s3_client(s3_port)
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
    with Stack("asset-gate-demo-") as stack:
        backends = os.path.join(ROOT, "e2e", "fixtures", "backends.py")
        stack.start("auth-backend", [sys.executable, backends, "auth", "--port", str(ports["auth"])])
        stack.start("header-provider", [sys.executable, backends, "headers", "--port", str(ports["provider"])])
        stack.start("echo", [sys.executable, backends, "echo", "--port", str(ports["echo"])])
        stack.start("gateway-backend", [sys.executable, backends, "gateway", "--port", str(ports["gateway_auth"])])
        stack.seaweedfs(ports["s3"], BUCKET)
        seed(ports["s3"])
        config = os.path.join(stack.work, "envoy.yaml")
        with open(config, "w") as f:
            f.write(render_envoy(ports, wasm))
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION=REGION)
        stack.start("envoy", [os.path.join(BIN, "envoy"), "-c", config, "--disable-hot-restart",
                              "--concurrency", "2", "--log-level", "info"], env=env)
        wait_http(f"http://127.0.0.1:{ports['admin']}/ready", "Envoy", ok=lambda s: s == 200)
        a, e, adm, g, s3 = ports["assets"], ports["edge"], ports["admin"], ports["gateway"], ports["s3"]
        h = ports["headers"]
        print(f"""
asset-gate demo is up (logs in {stack.work}). Try:

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
        stack.watch()


if __name__ == "__main__":
    main()
