#!/usr/bin/env python3
"""Small real HTTP servers used by the asset-gate tests and by `make demo`.

One process serves one role on 127.0.0.1 (port 0 = ephemeral) and prints
`PORT=<n>` on its first stdout line, so a harness can find it.

Roles:
  echo     answers 200 with a JSON description of the request it received.
  auth     the demo auth backend: decides who may read /assets/<key> (its
           denied keys compared with the key decoded, as storage reads it).
  gateway  flow D's auth backend (nginx auth_request style): judges the
           request named by X-Original-Method / X-Original-URI. Under
           `client_prefix` the rest is the key; a leading `presign_prefix`
           is dropped and asks for a presigned redirect. With a known token
           (or session cookie) it consents with `X-Accel-Redirect:
           <internal_prefix><key>`, adding `X-Accel-Grant` / `-Max-Bytes`
           from the first `rules` entry whose prefix the key has,
           `Cache-Control: private, max-age=N` for keys under
           `cache_prefix`, and `headers`; keys under `slow_prefix` answer
           after `slow_s`. Otherwise `anonymous_status` (no credentials at
           all, with WWW-Authenticate) or 403.
  headers  the header provider: answers a JSON object of headers.
  creds    an ECS container-credentials endpoint.
  imds     an EC2 instance metadata service, IMDSv2 as AWS documents it:
           PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
           (1 to 21600, else 400) answers a session token that expires
           after that TTL; every GET needs X-aws-ec2-metadata-token with a
           live token, else 401 (unless `allow_v1`); GET
           /latest/meta-data/iam/security-credentials/ lists the role, and
           .../<role> answers its credentials (Code, LastUpdated, Type,
           AccessKeyId, SecretAccessKey, Token, Expiration); another role 404.

Framework-style X-Accel-Redirect fixtures (flow A against the nginx oracle).
Each maps GET/HEAD/PUT/POST/DELETE/PATCH /assets/<key> (any
method: like most sendfile views they never check it, and they never read
the request body) to /internal-assets/<key> when the client sends
`Authorization: Bearer demo-token` or the cookie `session=demo-session`, and
answers 403 otherwise. <key> is the request path after /assets/, decoded
once. rack and symfony serve files, like the frameworks they imitate: the
key must name a file under the `root` setting (404 otherwise), whose size
and mtime they report; the test writes the same files there and into S3.
None of them puts the client's query into the redirect (neither Rails'
send_file nor Symfony's BinaryFileResponse does); seed keeps it, as the
demo auth backend does.
  rack     Rails send_file behind Rack::Sendfile (rack 3): lower-case header
           names; `x-accel-redirect` = Rack::Utils.escape_path(path) with `?`
           as %3F (RFC 2396 escaping: space, %, #, non-ASCII escaped; + & = ;
           : @ $ , kept); `content-length: 0` and an empty body;
           `content-type` from the extension; `content-disposition:
           attachment; filename="<ascii, %-escaped>"; filename*=UTF-8''<...>`
           (ActionDispatch::Http::ContentDisposition); `content-transfer-
           encoding: binary`; `cache-control: no-cache` (Rack::ETag); one
           session `set-cookie`; `x-request-id` and `x-frame-options`.
  symfony  Symfony BinaryFileResponse with trusted X-Sendfile-Type
           (Laravel's download()): `X-Accel-Redirect` RAW, not
           percent-encoded (spaces and UTF-8 bytes as they are);
           `Content-Length: <file size>` with an EMPTY body, so the answer
           also says `Connection: close` and the server closes the
           connection (the stream is never desynchronised);
           `Accept-Ranges: bytes`, `Last-Modified` (file mtime),
           `Cache-Control: public`, `Content-Type` (guessed),
           `Content-Disposition: attachment; filename=<fallback>;
           filename*=utf-8''<rawurlencoded>` (HeaderUtils::makeDisposition),
           `X-Powered-By`.
  seed     the seed article's backend: `307` with `x-internal-redirect:
           true` and `Location: http://<its OWN listening host:port>/
           internal-assets/<key as received, still encoded>[?query]` (not
           the Host it was sent), empty body.
Settings shared by these three (see DEFAULTS): tokens, cookie_name,
sessions, denied_keys, internal_prefix, root, accel_status (the status of
the X-Accel-Redirect answer; nginx ignores it) and accel_extras: when true,
the answer also carries django-downloadview's control headers
`X-Accel-Charset: utf-8`, `X-Accel-Buffering: no`, `X-Accel-Expires: off`,
`X-Accel-Limit-Rate: off`, which must never reach a client.

Every role also answers two control paths, used only by tests:
  GET  /_stats    {"hits": n, "paths": [...]} (requests seen, control paths excluded)
  POST /_control  a JSON object merged into the role's behaviour (see DEFAULTS).
Standard library only: it also runs in the demo container image.
"""
import argparse
import hashlib
import email.utils
import json
import mimetypes
import os
import sys
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

# The consent settings of the framework fixtures (rack, symfony, seed).
_FIXTURE = {
    "tokens": ["demo-token"],
    "cookie_name": "session",
    "sessions": ["demo-session"],
    "denied_keys": ["secret.txt"],
    "internal_prefix": "/internal-assets/",
    "root": ".",
    "accel_status": 200,
    "accel_extras": False,
}

# django-downloadview's X-Accel control headers (values it sends).
ACCEL_EXTRAS = [
    ("X-Accel-Charset", "utf-8"),
    ("X-Accel-Buffering", "no"),
    ("X-Accel-Expires", "off"),
    ("X-Accel-Limit-Rate", "off"),
]

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
        # style "redirect": flag the 307 with x-internal-redirect: true
        "flag_internal": True,
        # compare the key as sent, undecoded (a naive backend, for tests):
        # `secret%2etxt` is then not `secret.txt`
        "raw_key_check": False,
    },
    "gateway": {
        "tokens": ["demo-token"],
        "cookie_name": "session",
        "sessions": ["demo-session"],
        "client_prefix": "/",
        "internal_prefix": "/internal-assets/",
        "presign_prefix": "presigned/",
        "denied_keys": ["secret.txt"],
        # [{"prefix": "uploads/", "grant": "PUT, multipart", "max_bytes": null}]; a rule
        # may also set "status", "body" and "headers" of the consent's answer
        "rules": [{"prefix": "uploads/", "grant": "PUT, multipart", "max_bytes": None}],
        "cache_prefix": None,
        "cache_max_age": 60,
        "slow_prefix": "slow/",
        "slow_s": 3,
        "headers": {},
        # the answer to a request without any credentials
        "anonymous_status": 403,
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
    "imds": {
        "role": "asset-gate-role",
        "access_key_id": "",
        "secret_access_key": "",
        "token": "",
        "lifetime_s": 3600,
        "allow_v1": False,
        "status": 200,
        "delay_s": 0,
    },
    "rack": dict(_FIXTURE),
    "symfony": dict(_FIXTURE),
    "seed": dict(_FIXTURE),
}


def _wire(value):
    """A header value as raw UTF-8 bytes on the wire (http.server writes latin-1)."""
    return value.encode("utf-8").decode("latin-1")


def _rack_escape_path(path):
    # Rack::Utils.escape_path = URI::DEFAULT_PARSER.escape (RFC 2396 unreserved and
    # reserved characters kept), then Rack::Sendfile turns '?' into %3F.
    return quote(path, safe="-_.!~*'();/?:@&=+$,[]").replace("?", "%3F")


def _rails_disposition(disposition, filename):
    # ActionDispatch::Http::ContentDisposition#to_s.
    def escape(text, keep):
        return "".join(c if c in keep else "".join("%%%02X" % b for b in c.encode()) for c in text)

    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    # I18n.transliterate: accents dropped, anything else non-ASCII becomes '?'.
    ascii_name = "".join(
        c if ord(c) < 128 else (unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?")
        for c in filename
    )
    traditional = escape(ascii_name, alnum + " !#$+.^_`|~-")
    rfc5987 = escape(filename, alnum + "!#$&+.^_`|~-")
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (disposition, traditional, rfc5987)


def _symfony_disposition(disposition, filename):
    # Symfony HeaderUtils::makeDisposition with the fallback BinaryFileResponse builds.
    fallback = "".join("_" if c == "%" or ord(c) < 32 or ord(c) > 126 else c for c in filename)
    token = all(c.isalnum() and ord(c) < 128 or c in "!#$%&'*.^_`|~-" for c in fallback)
    out = disposition + "; filename=" + (fallback if token else '"%s"' % fallback.replace('"', '\\"'))
    if fallback != filename:
        out += "; filename*=utf-8''" + quote(filename, safe="-_.~")
    return out


class State:
    def __init__(self, role, overrides):
        self.role = role
        self.lock = threading.Lock()
        self.conf = json.loads(json.dumps(DEFAULTS[role]))
        self.conf.update(overrides)
        self.hits = 0
        self.paths = []
        self.tokens = {}
        self.unauthorized = 0

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
                return self._send(200, {"hits": state.hits, "paths": list(state.paths),
                                        "tokens": len(state.tokens), "unauthorized": state.unauthorized})
        if path == "/_control" and self.command == "POST":
            update = json.loads(self._body() or b"{}")
            with state.lock:
                state.conf.update(update)
            return self._send(200, state.snapshot())
        body = self._body()
        state.seen(path if state.role != "imds" else self.command + " " + path)
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
                "body_sha256": hashlib.sha256(body).hexdigest(),
            },
        )

    def _authorized(self, conf):
        """The demo consent: a known bearer token or session cookie."""
        auth = self.headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        cookies = {}
        for part in self.headers.get("cookie", "").split(";"):
            if "=" in part:
                k, v = part.strip().split("=", 1)
                cookies[k] = v
        return token in conf["tokens"] or cookies.get(conf["cookie_name"]) in conf["sessions"]

    def role_auth(self, conf, body):
        split = urlsplit(self.path)
        if not split.path.startswith("/assets/"):
            return self._send(404, {"error": "not an asset path"})
        key = split.path[len("/assets/"):]
        allowed = self._authorized(conf)
        # The key storage reads is the decoded one: `secret%2etxt` is `secret.txt`.
        checked = key if conf["raw_key_check"] else unquote(key)
        if not allowed or checked in conf["denied_keys"]:
            return self._send(403, "access denied by the demo auth backend\n", content_type="text/plain")
        target = conf["internal_prefix"] + key + ("?" + split.query if split.query else "")
        if conf["location_override"]:
            target = conf["location_override"]
        if conf["style"] == "accel":
            return self._send(conf["accel_status"], b"", {"x-accel-redirect": target})
        host = self.headers.get("host", "localhost")
        location = target if "://" in target else "http://" + host + target
        flag = {"x-internal-redirect": "true"} if conf["flag_internal"] else {}
        return self._send(307, b"", {"location": location, **flag})

    def role_gateway(self, conf, body):
        method = self.headers.get("x-original-method", "")
        split = urlsplit(self.headers.get("x-original-uri", ""))
        if not split.path.startswith(conf["client_prefix"]):
            return self._send(404, "no such file\n", content_type="text/plain")
        key = split.path[len(conf["client_prefix"]):]
        if conf["slow_prefix"] and key.startswith(conf["slow_prefix"]):
            time.sleep(conf["slow_s"])
        presign = bool(conf["presign_prefix"]) and key.startswith(conf["presign_prefix"])
        if presign:
            key = key[len(conf["presign_prefix"]):]
        if not self.headers.get("authorization") and not self.headers.get("cookie"):
            return self._send(conf["anonymous_status"], "log in first\n",
                              {"www-authenticate": 'Bearer realm="demo"'}, content_type="text/plain")
        if not self._authorized(conf) or unquote(key) in conf["denied_keys"]:
            return self._send(403, "access denied by the demo auth backend (%s)\n" % method,
                              content_type="text/plain")
        headers = {"x-accel-redirect": conf["internal_prefix"] + key}
        status, answer_body = 200, b""
        for rule in conf["rules"]:
            if key.startswith(rule["prefix"]):
                if rule.get("grant"):
                    headers["x-accel-grant"] = rule["grant"]
                if rule.get("max_bytes") is not None:
                    headers["x-accel-max-bytes"] = str(rule["max_bytes"])
                # Optional: the answer's status and body (a refusal that still
                # names an X-Accel-Redirect), and extra headers.
                status = rule.get("status", 200)
                answer_body = rule.get("body", "").encode()
                headers.update(rule.get("headers", {}))
                break
        if presign:
            headers["x-accel-presign"] = "1"
        if conf["cache_prefix"] and key.startswith(conf["cache_prefix"]):
            headers["cache-control"] = "private, max-age=%d" % conf["cache_max_age"]
        headers.update(conf["headers"])
        # No Content-Type: like nginx, a presigned read would carry it.
        self._raw_answer(status, list(headers.items()) + [("content-length", str(len(answer_body)))], answer_body)

    # ---- framework fixtures (rack, symfony, seed) -------------------------------

    def _consented(self, conf):
        """(key, raw key, query) when the client may read /assets/<key>, else None."""
        split = urlsplit(self.path)
        if not split.path.startswith("/assets/"):
            return None
        raw = split.path[len("/assets/"):]
        key = unquote(raw)
        allowed = self._authorized(conf)
        if not allowed or key in conf["denied_keys"]:
            return None
        return key, raw, split.query

    def _raw_answer(self, status, headers, body=b""):
        """Headers exactly as given (names, order, duplicates), then `body`."""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _denied(self):
        body = b"access denied by the test backend\n"
        self._raw_answer(403, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], body)

    def _file(self, conf, key):
        path = os.path.normpath(os.path.join(conf["root"], key))
        if not path.startswith(os.path.normpath(conf["root"]) + os.sep) or not os.path.isfile(path):
            body = b"no such file\n"
            self._raw_answer(404, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))], body)
            return None
        return path

    def role_rack(self, conf, body):
        found = self._consented(conf)
        if found is None:
            return self._denied()
        key, _raw, _query = found
        path = self._file(conf, key)
        if path is None:
            return
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        headers = [
            ("content-type", ctype),
            ("content-disposition", _wire(_rails_disposition("attachment", os.path.basename(key)))),
            ("content-transfer-encoding", "binary"),
            ("cache-control", "no-cache"),
            ("x-frame-options", "SAMEORIGIN"),
            ("x-request-id", "rack-req-1"),
            ("set-cookie", "_app_session=rack-session-1; path=/; httponly; samesite=lax"),
            ("x-accel-redirect", _rack_escape_path(conf["internal_prefix"] + key)),
        ]
        if conf["accel_extras"]:
            headers += ACCEL_EXTRAS
        headers.append(("content-length", "0"))
        self._raw_answer(conf["accel_status"], headers)

    def role_symfony(self, conf, body):
        found = self._consented(conf)
        if found is None:
            return self._denied()
        key, _raw, _query = found
        path = self._file(conf, key)
        if path is None:
            return
        st = os.stat(path)
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        headers = [
            ("Cache-Control", "public"),
            ("Content-Type", ctype),
            ("Last-Modified", email.utils.formatdate(int(st.st_mtime), usegmt=True)),
            ("Accept-Ranges", "bytes"),
            ("Content-Disposition", _wire(_symfony_disposition("attachment", os.path.basename(key)))),
            ("X-Powered-By", "PHP/8.3.0"),
            ("X-Accel-Redirect", _wire(conf["internal_prefix"] + key)),
        ]
        if conf["accel_extras"]:
            headers += ACCEL_EXTRAS
        # The real size with an empty body (BinaryFileResponse maxlen = 0): only a
        # closed connection keeps the client in step.
        headers += [("Content-Length", str(st.st_size)), ("Connection", "close")]
        self._raw_answer(conf["accel_status"], headers)
        self.close_connection = True

    def role_seed(self, conf, body):
        found = self._consented(conf)
        if found is None:
            return self._denied()
        _key, raw, query = found
        host, port = self.server.server_address[:2]
        location = "http://%s:%d%s%s%s" % (host, port, conf["internal_prefix"], raw, "?" + query if query else "")
        headers = [("location", location), ("x-internal-redirect", "true")]
        if conf["accel_extras"]:
            headers += ACCEL_EXTRAS
        headers.append(("content-length", "0"))
        self._raw_answer(307, headers)

    def role_headers(self, conf, body):
        if conf["delay_s"]:
            time.sleep(conf["delay_s"])
        payload = conf["raw_body"] if conf["raw_body"] is not None else conf["body"]
        self._send(conf["status"], payload)

    def role_imds(self, conf, body):
        state = self.server.state
        now = time.time()
        if self.command == "PUT" and self.path == "/latest/api/token":
            ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self._send(400, b"", content_type="text/plain")
            token = "imds-%d-%s" % (len(state.tokens) + 1, hashlib.sha256(os.urandom(16)).hexdigest()[:16])
            with state.lock:
                state.tokens[token] = now + int(ttl)
            return self._send(200, token, {"x-aws-ec2-metadata-token-ttl-seconds": ttl}, "text/plain")
        if self.command != "GET":
            return self._send(405, b"", content_type="text/plain")
        token = self.headers.get("x-aws-ec2-metadata-token")
        with state.lock:
            live = token is not None and state.tokens.get(token, 0) > now
        if not live and not (token is None and conf["allow_v1"]):
            with state.lock:
                state.unauthorized += 1
            return self._send(401, b"", content_type="text/plain")
        if conf["delay_s"]:
            time.sleep(conf["delay_s"])
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self._send(200, conf["role"], content_type="text/plain")
        if self.path != base + conf["role"]:
            return self._send(404, b"", content_type="text/plain")
        if conf["status"] != 200:
            return self._send(conf["status"], b"", content_type="text/plain")
        stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        self._send(200, {
            "Code": "Success",
            "LastUpdated": stamp(now),
            "Type": "AWS-HMAC",
            "AccessKeyId": conf["access_key_id"],
            "SecretAccessKey": conf["secret_access_key"],
            "Token": conf["token"],
            "Expiration": stamp(now + conf["lifetime_s"]),
        }, content_type="text/plain")

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
