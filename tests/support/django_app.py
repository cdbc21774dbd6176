#!/usr/bin/env python3
"""A real Django 5.2 app serving files with django-sendfile2's nginx backend.

Run with the project venv's Python (`make setup` installs Django and
django-sendfile2 there):

    .venv/bin/python tests/support/django_app.py --port 0 --root DIR [--accel-extras]

It listens on 127.0.0.1 and prints `PORT=<n>` as its first stdout line.

Settings: SENDFILE_BACKEND = 'django_sendfile.backends.nginx',
SENDFILE_ROOT = DIR, SENDFILE_URL = '/internal-assets'. sendfile2 needs the
file on local disk (404 otherwise), so a test writes each object both under
DIR and into the bucket. The X-Accel-Redirect value is sendfile2's own:
`quote('/internal-assets/<key>')`, percent-encoded; the client's query is not
carried (sendfile2 does not).

Views (any method: like most sendfile views they never check it; csrf_exempt,
and the request body is never read):
  /assets/<key>  sendfile(request, key, attachment=True,
                 attachment_filename='résumé ü.txt'), plus two cookies
                 (`seen=1` and an HttpOnly `asset_session`),
                 `Cache-Control: private` and a fixed `Expires`.
  /inline/<key>  sendfile(request, key): `Content-Disposition: inline;
                 filename="<name>"`, nothing else added.
Both answer 403 unless the client sends `Authorization: Bearer demo-token`
or the cookie `session=demo-session`. The key `secret.txt` is denied to
everyone. sendfile2 answers `Content-Length: <file size>` with an empty body;
the server then closes the connection so the stream stays in step (Django's
runserver would keep it open and desynchronise a reusing client).

Middleware is a typical project's minus sessions/auth (no database):
SecurityMiddleware (X-Content-Type-Options, Referrer-Policy,
Cross-Origin-Opener-Policy), CommonMiddleware, CsrfViewMiddleware and
XFrameOptionsMiddleware (X-Frame-Options: DENY): headers nginx does not keep
on an X-Accel-Redirect.

With --accel-extras the answers also carry django-downloadview's control
headers (X-Accel-Charset, -Buffering, -Expires, -Limit-Rate), which must never
reach a client.
"""
import argparse
import logging
import sys

import django
from django.conf import settings
from django.core.servers import basehttp
from django.http import HttpResponseForbidden
from django.urls import path
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt

ATTACHMENT_NAME = "résumé ü.txt"
EXPIRES = "Thu, 01 Jan 2037 00:00:00 GMT"
TOKENS = {"demo-token"}
SESSIONS = {"demo-session"}
DENIED = {"secret.txt"}
ACCEL_EXTRAS = [
    ("X-Accel-Charset", "utf-8"),
    ("X-Accel-Buffering", "no"),
    ("X-Accel-Expires", "off"),
    ("X-Accel-Limit-Rate", "off"),
]
OPTIONS = {"accel_extras": False}


def _allowed(request, key):
    auth = request.headers.get("Authorization", "")
    token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
    ok = token in TOKENS or request.COOKIES.get("session") in SESSIONS
    return ok and key not in DENIED


def _extras(response):
    if OPTIONS["accel_extras"]:
        for k, v in ACCEL_EXTRAS:
            response[k] = v
    return response


@csrf_exempt
def asset(request, key):
    from django_sendfile import sendfile

    if not _allowed(request, key):
        return HttpResponseForbidden("access denied by the Django test app\n", content_type="text/plain")
    response = sendfile(request, key, attachment=True, attachment_filename=ATTACHMENT_NAME)
    response.set_cookie("seen", "1")
    response.set_cookie("asset_session", "django-session-1", httponly=True, samesite="Lax")
    patch_cache_control(response, private=True)
    response["Expires"] = EXPIRES
    return _extras(response)


@csrf_exempt
def inline(request, key):
    from django_sendfile import sendfile

    if not _allowed(request, key):
        return HttpResponseForbidden("access denied by the Django test app\n", content_type="text/plain")
    return _extras(sendfile(request, key))


urlpatterns = [
    path("assets/<path:key>", asset),
    path("inline/<path:key>", inline),
]


class ServerHandler(basehttp.ServerHandler):
    """Django's runserver handler, but an answer whose body is shorter than its
    Content-Length (sendfile2's X-Accel-Redirect answers) closes the connection."""

    def cleanup_headers(self):
        super().cleanup_headers()
        declared = self.headers.get("Content-Length")
        if (
            self.environ["REQUEST_METHOD"] != "HEAD"
            and declared is not None
            and declared.isdigit()
            and int(declared) > self.bytes_sent
        ):
            self.headers["Connection"] = "close"
            self.request_handler.close_connection = True


class RequestHandler(basehttp.WSGIRequestHandler):
    def log_message(self, format, *args):
        if OPTIONS.get("verbose"):
            sys.stderr.write("django %s\n" % (format % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--root", required=True, help="SENDFILE_ROOT: the files sendfile2 may send")
    parser.add_argument("--accel-extras", action="store_true", help="add downloadview's X-Accel-* headers")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    OPTIONS["accel_extras"] = args.accel_extras
    OPTIONS["verbose"] = args.verbose
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        SECRET_KEY="asset-gate-tests-only-not-a-secret",
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        DATABASES={},
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        USE_TZ=True,
        SENDFILE_BACKEND="django_sendfile.backends.nginx",
        SENDFILE_ROOT=args.root,
        SENDFILE_URL="/internal-assets",
        LOGGING_CONFIG=None,
    )
    django.setup()
    if not args.verbose:  # 403/404 warnings would fill the test output
        logging.getLogger("django").addHandler(logging.NullHandler())
    from django.core.wsgi import get_wsgi_application

    basehttp.ServerHandler = ServerHandler  # used by WSGIRequestHandler.handle_one_request
    server = basehttp.ThreadedWSGIServer((args.bind, args.port), RequestHandler)
    server.set_app(get_wsgi_application())
    print("PORT=%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
