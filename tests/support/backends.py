#!/usr/bin/env python3
"""Small real HTTP servers used by the asset-gate tests and by `make demo`.

One process serves one role on 127.0.0.1 (port 0 = ephemeral) and prints
`PORT=<n>` on its first stdout line, so a harness can find it.

Roles:
  echo     answers 200 with a JSON description of the request it received.
  auth     the demo auth backend: decides who may read /assets/<key>.
  headers  the header provider: answers a JSON object of headers.
  creds    an ECS container-credentials endpoint.

Every role also answers two control paths, used only by tests:
  GET  /_stats    {"hits": n, "paths": [...]} (requests seen, control paths excluded)
  POST /_control  a JSON object merged into the role's behaviour (see DEFAULTS).
Standard library only: it also runs in the demo container image.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DEFAULTS = {
    "echo": {},
    "auth": {
        # token or cookie value -> True when allowed
        "tokens": ["demo-token"],
        "cookie_name": "session",
        "sessions": ["demo-session"],
        "internal_prefix": "/internal-assets/",
        # "redirect" (307 + x-internal-redirect) or "accel" (X-Accel-Redirect)
        "style": "redirect",
        "accel_status": 200,
        # keys nobody may read, whatever the token
        "denied_keys": ["secret.txt"],
        # when set, answer this location verbatim (tests of hostile backends)
        "location_override": None,
    },
    "headers": {
        "status": 200,
        "body": {"x-idp-token": "demo-idp-token", "x-tenant": "demo"},
        "raw_body": None,
        "delay_s": 0,
    },
    "creds": {
        "status": 200,
        "access_key_id": "",
        "secret_access_key": "",
        "token": None,
        "lifetime_s": 3600,
        "authorization": None,
        "delay_s": 0,
    },
}


class State:
    def __init__(self, role, overrides):
        self.role = role
        self.lock = threading.Lock()
        self.conf = json.loads(json.dumps(DEFAULTS[role]))
        self.conf.update(overrides)
        self.hits = 0
        self.paths = []

    def seen(self, path):
        with self.lock:
            self.hits += 1
            self.paths.append(path)
            del self.paths[:-1000]

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.conf))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "asset-gate-test-backend"

    def log_message(self, fmt, *args):  # keep test output quiet
        if self.server.state.conf.get("verbose"):
            sys.stderr.write("%s %s\n" % (self.server.state.role, fmt % args))

    def _body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_one_request(self):
        # A client (Envoy) that gave up waiting closes the connection; that is
        # what the timeout tests provoke, not an error worth a traceback.
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, status, body=b"", headers=None, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or status not in (204, 304):
            self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self):
        state = self.server.state
        path = self.path
        if path == "/_stats":
            with state.lock:
                return self._send(200, {"hits": state.hits, "paths": list(state.paths)})
        if path == "/_control" and self.command == "POST":
            update = json.loads(self._body() or b"{}")
            with state.lock:
                state.conf.update(update)
            return self._send(200, state.snapshot())
        body = self._body()
        state.seen(path)
        getattr(self, "role_" + state.role)(state.snapshot(), body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch

    def role_echo(self, conf, body):
        self._send(
            200,
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body_len": len(body),
            },
        )

    def role_auth(self, conf, body):
        split = urlsplit(self.path)
        if not split.path.startswith("/assets/"):
            return self._send(404, {"error": "not an asset path"})
        key = split.path[len("/assets/"):]
        auth = self.headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        cookies = {}
        for part in self.headers.get("cookie", "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                cookies[k] = v
        allowed = token in conf["tokens"] or cookies.get(conf["cookie_name"]) in conf["sessions"]
        if not allowed or key in conf["denied_keys"]:
            return self._send(403, "access denied by the demo auth backend\n", content_type="text/plain")
        target = conf["internal_prefix"] + key + ("?" + split.query if split.query else "")
        if conf["location_override"]:
            target = conf["location_override"]
        if conf["style"] == "accel":
            return self._send(conf["accel_status"], b"", {"x-accel-redirect": target})
        host = self.headers.get("host", "localhost")
        location = target if "://" in target else "http://" + host + target
        return self._send(307, b"", {"location": location, "x-internal-redirect": "true"})

    def role_headers(self, conf, body):
        if conf["delay_s"]:
            time.sleep(conf["delay_s"])
        payload = conf["raw_body"] if conf["raw_body"] is not None else conf["body"]
        self._send(conf["status"], payload)

    def role_creds(self, conf, body):
        if conf["delay_s"]:
            time.sleep(conf["delay_s"])
        if conf["authorization"] and self.headers.get("authorization") != conf["authorization"]:
            return self._send(401, {"message": "bad authorization token"})
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + conf["lifetime_s"]))
        doc = {
            "AccessKeyId": conf["access_key_id"],
            "SecretAccessKey": conf["secret_access_key"],
            "Expiration": expiration,
        }
        if conf["token"]:
            doc["Token"] = conf["token"]
        self._send(conf["status"], doc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(DEFAULTS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--config", default="{}", help="JSON object overriding the role's defaults")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.role, json.loads(args.config))
    print("PORT=%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
