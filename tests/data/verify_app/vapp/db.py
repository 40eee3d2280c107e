import sqlite3

from flask import current_app, g

SCHEMA = """
DROP TABLE IF EXISTS note;
CREATE TABLE note (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
DROP TABLE IF EXISTS attachment;
CREATE TABLE attachment (name TEXT PRIMARY KEY, path TEXT NOT NULL);
"""


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
        g.db.row_factory = sqlite3.Row
    return g.db


def close_db(e=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db():
    get_db().executescript(SCHEMA)


def init_app(app):
    app.teardown_appcontext(close_db)
