"""Contender: what the Flask course deploys. Flask + Flask-Session with the filesystem
type, under gunicorn (2 workers x 4 threads, started by bench/run.ts), rendering the app's
own templates (views/) with Jinja2, which reads them as they are.

    SESSION_DIR=... SESSION_SECRET=... gunicorn -w 2 --threads 4 -c bench/servers/gunicorn_conf.py \
        --chdir bench/servers flask_app:app
"""
import os

from flask import Flask, redirect, render_template, session
from flask_session import Session

VIEWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "views")

app = Flask(__name__, template_folder=VIEWS)
app.config.update(
    SECRET_KEY=os.environ.get("SESSION_SECRET", "bench"),
    SESSION_TYPE="filesystem",
    SESSION_FILE_DIR=os.environ["SESSION_DIR"],
    # Its default (500 files) would start deleting the bench's 1,000 sessions.
    SESSION_FILE_THRESHOLD=1_000_000,
    # Signed like express-session's and handstamp's cookies.
    SESSION_USE_SIGNER=True,
)
Session(app)


class JsString(str):
    """The templates were written for Nunjucks, where a string has JavaScript's methods."""

    def startsWith(self, prefix):  # noqa: N802 (the templates' spelling)
        return self.startswith(prefix)


def page(template, **values):
    return render_template(
        template,
        csrfToken=lambda: "token",
        takeFlashes=lambda: [],
        cartCount=0,
        **values,
    )


@app.get("/")
def counter():
    session["visits"] = session.get("visits", 0) + 1
    return page("index.njk", visits=session["visits"], currentUser=session.get("name"), path=JsString("/"))


@app.get("/secret")
def secret():
    name = session.get("name")
    if not name:
        return redirect("/login", 303)
    return page("secret.njk", currentUser=name, path=JsString("/secret"))


@app.get("/bench-login")
def bench_login():
    """How the bench logs a session in, as the tutorial server does."""
    session["name"] = "bench"
    return redirect("/", 303)
