#!/usr/bin/env python3
"""moto as the real STS (and SigV4-enforcing S3) for the credentials tests.

Run with the project venv's python (boto3/botocore, moto[server]).

  setup  --moto PORT
      The account's fixtures, made while moto still takes unauthenticated
      requests (the test starts moto with INITIAL_NO_AUTH_ACTION_COUNT equal
      to SETUP_ACTIONS, so every later request is authenticated): an IAM user
      whose key signs AssumeRole, a role it may assume (trust policy) with S3
      rights, a bucket and an object. Prints {"access_key_id", "secret_access_key"}.
  assume --moto PORT --key AK --secret SK [--session NAME]
      AssumeRole signed by botocore: credentials moto issued, to be served by
      the tests' own IMDS and container endpoints. Prints the ECS-style JSON.
  relay  --moto PORT --key AK --secret SK
      An HTTP relay in front of moto's STS that records what asset-gate sent
      (action, role, session, external id, web identity token, whether it
      was signed) and what moto answered (status, issued key id). moto, when
      it authenticates at all, also authenticates AssumeRoleWithWebIdentity
      (real STS does not: the call is unsigned), so the relay signs that one
      call with the IAM user's key before forwarding it, and records that the
      original was unsigned. Prints PORT=<n>. Control paths:
        GET  /_stats    {"calls": [...]}
        POST /_control  {"status": 500} fail, {"delay_s": 5} stall, {} normal
"""
import argparse
import json
import sys
import threading
import time
import urllib.parse
import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
USER = "asset-gate-base"
ROLE = "asset-gate-role"
BUCKET = "creds"
OBJECT = "hello.txt"
OBJECT_BODY = b"signed with credentials from every source\n"
SETUP_ACTIONS = 7


def client(service, port, key="testing", secret="testing", token=None):
    import boto3

    return boto3.client(
        service,
        endpoint_url="http://127.0.0.1:%d" % port,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def setup(port):
    iam = client("iam", port)
    iam.create_user(UserName=USER)  # 1
    key = iam.create_access_key(UserName=USER)["AccessKey"]  # 2
    allow = lambda action: json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    )
    assume_actions = ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]
    iam.put_user_policy(UserName=USER, PolicyName="assume", PolicyDocument=allow(assume_actions))  # 3
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::%s:user/%s" % (ACCOUNT, USER)},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "asset-gate-ext"}},
            },
            {
                # The relay's signature stands in for the missing one (see relay).
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::%s:user/%s" % (ACCOUNT, USER)},
                "Action": "sts:AssumeRoleWithWebIdentity",
            },
        ],
    }
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))  # 4
    iam.put_role_policy(RoleName=ROLE, PolicyName="s3", PolicyDocument=allow("s3:*"))  # 5
    s3 = client("s3", port)
    s3.create_bucket(Bucket=BUCKET)  # 6
    s3.put_object(Bucket=BUCKET, Key=OBJECT, Body=OBJECT_BODY)  # 7
    print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}))


def assume(port, key, secret, session):
    sts = client("sts", port, key, secret)
    c = sts.assume_role(
        RoleArn="arn:aws:iam::%s:role/%s" % (ACCOUNT, ROLE),
        RoleSessionName=session,
        ExternalId="asset-gate-ext",
        DurationSeconds=900,
    )["Credentials"]
    print(json.dumps({"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "Token": c["SessionToken"]}))


def xml_text(body, tag):
    start = body.find("<%s>" % tag)
    end = body.find("</%s>" % tag)
    return body[start + len(tag) + 2 : end] if start >= 0 and end > start else None


class Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with self.server.lock:
                body = json.dumps({"calls": list(self.server.calls)}).encode()
            return self._send(200, body, [("content-type", "application/json")])
        self._send(404, b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/_control":
            with self.server.lock:
                self.server.conf = json.loads(body or b"{}")
            return self._send(200, b"{}")
        with self.server.lock:
            conf = dict(self.server.conf)
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        call = {
            "action": form.get("Action"),
            "role_arn": form.get("RoleArn"),
            "session": form.get("RoleSessionName"),
            "external_id": form.get("ExternalId"),
            "duration": form.get("DurationSeconds"),
            "token": form.get("WebIdentityToken"),
            "signed": "authorization" in {k.lower() for k in self.headers.keys()},
            "host": self.headers.get("host"),
        }
        if conf.get("delay_s"):
            time.sleep(conf["delay_s"])
        if conf.get("status"):
            call["status"] = conf["status"]
            self._record(call)
            return self._send(conf["status"], b"<ErrorResponse><Error><Code>InternalFailure</Code></Error></ErrorResponse>")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        if call["action"] == "AssumeRoleWithWebIdentity" and not call["signed"]:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials

            req = AWSRequest(method="POST", url="http://%s/" % call["host"], data=body, headers={"content-type": headers.get("content-type", "")})
            SigV4Auth(Credentials(self.server.key, self.server.secret), "sts", "us-east-1").add_auth(req)
            headers.update(dict(req.headers))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.moto_port, timeout=30)
        conn.request("POST", self.path, body=body, headers=headers)
        answer = conn.getresponse()
        payload = answer.read()
        call["status"] = answer.status
        call["issued"] = xml_text(payload.decode("utf-8", "replace"), "AccessKeyId")
        call["moto_error"] = xml_text(payload.decode("utf-8", "replace"), "Code")
        self._record(call)
        self._send(answer.status, payload, [("content-type", answer.getheader("content-type", "text/xml"))])

    def _record(self, call):
        with self.server.lock:
            self.server.calls.append(call)
            del self.server.calls[:-500]


def relay(port, key, secret):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.calls = []
    server.conf = {}
    server.moto_port = port
    server.key, server.secret = key, secret
    print("PORT=%d" % server.server_address[1], flush=True)
    server.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["setup", "assume", "relay"])
    p.add_argument("--moto", type=int, required=True)
    p.add_argument("--key")
    p.add_argument("--secret")
    p.add_argument("--session", default="served")
    a = p.parse_args()
    if a.command == "setup":
        setup(a.moto)
    elif a.command == "assume":
        assume(a.moto, a.key, a.secret, a.session)
    else:
        relay(a.moto, a.key, a.secret)


if __name__ == "__main__":
    sys.exit(main())
