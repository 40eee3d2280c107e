from flask import Blueprint, current_app, g, jsonify, redirect, request, session

from . import words
from .db import get_db

bp = Blueprint("greet", __name__)


@bp.before_app_request
def stamp():
    g.handled_by = "vapp"  # what privacyIDEA's before_request does with g.audit_object


@bp.get("/greet/<name>")
def greet(name):
    return words.greeting(name)


@bp.get("/mode")
def mode():
    return {"shout": bool(current_app.config.get("SHOUT", False))}


@bp.get("/notes")
def notes():
    rows = get_db().execute("SELECT body FROM note ORDER BY id").fetchall()
    return jsonify([r["body"] for r in rows])


@bp.get("/attachments/<name>")
def attachment(name):
    row = get_db().execute("SELECT path FROM attachment WHERE name = ?", (name,)).fetchone()
    if row is None:
        return "no such attachment", 404
    with open(row["path"], encoding="utf-8") as f:  # relative to the working directory
        return f.read()


@bp.post("/login")
def login():
    session.clear()
    session["user"] = request.form["user"]
    return redirect("/whoami")


@bp.get("/whoami")
def whoami():
    return session.get("user", "nobody")


@bp.get("/client")
def client_address():
    # the caller's address as the app sees it: privacyIDEA's client-bound policies match on it
    return {"remote_addr": request.remote_addr, "forwarded": request.headers.get("X-Forwarded-For"),
            "remote_user": request.environ.get("REMOTE_USER")}


@bp.get("/config/vapp")
def vapp_config():
    # the app iterating its configuration (privacyIDEA's documentation report renders every PI_ key)
    return {k: v for k, v in current_app.config.items() if str(k).startswith("VAPP_")}
