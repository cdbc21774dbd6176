"""A minimal app behind asset-gate (docs/your-app.md).

Cookie login, and /media/<key> that answers logged-in users with
X-Accel-Redirect: /internal-assets/<key> (Envoy then streams the object from
storage, signed by asset-gate) and everyone else with 403. The app never
reads the bytes and never holds storage keys.

    .venv/bin/python examples/flask-app/app.py    # http://127.0.0.1:5000, PORT to move it
"""
import os
from urllib.parse import quote

from flask import Flask, Response, abort, redirect, render_template_string, request, session

app = Flask(__name__)
# Signs the session cookie. A fresh key per start logs everyone out; set
# SECRET_KEY to keep sessions across restarts.
app.secret_key = os.environ.get("SECRET_KEY") or os.urandom(32)
app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

PAGE = """<!doctype html>
<title>My media</title>
{% if user %}
  <p>Logged in as {{ user }}.
  <form method="post" action="/logout"><button>Log out</button></form>
  <img src="/media/photo.jpg" alt="a photo" width="320">
  <video src="/media/clip.mp4" controls width="320"></video>
  <p><a href="/media/guide.pdf">The guide (PDF)</a>
{% else %}
  <form method="post" action="/login">
    <input name="user" placeholder="any name" required> <button>Log in</button>
  </form>
{% endif %}
"""


@app.get("/")
def index():
    return render_template_string(PAGE, user=session.get("user"))


@app.post("/login")
def login():
    user = request.form.get("user", "").strip()
    if not user:
        abort(400)
    session["user"] = user
    return redirect("/", 303)


@app.post("/logout")
def logout():
    session.clear()
    return redirect("/", 303)


@app.get("/media/<path:key>")
def media(key):
    # Your authorization goes here: who may read which key.
    if "user" not in session:
        abort(403)
    answer = Response()
    # The key as storage names it, percent-encoded once (asset-gate decodes
    # it once, as nginx does).
    answer.headers["X-Accel-Redirect"] = "/internal-assets/" + quote(key)
    if key.endswith(".pdf"):
        # Kept by asset-gate: the browser saves the file under this name.
        answer.headers.set("Content-Disposition", "attachment", filename=key.rsplit("/", 1)[-1])
    return answer


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
