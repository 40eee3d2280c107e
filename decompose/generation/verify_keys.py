"""The settings that name the monolith's database, for ``decompose verify`` (pure).

``decompose verify`` points the monolith's database settings, in the
services and in the test process, at one shared SQLite file
(``templates/runtime/verify_config.py.j2``).  Which settings those are is read
from the monolith's source here, at generate time:

* Flask configuration keys: ``config["KEY"]``, ``config.get("KEY")``,
  ``config.setdefault("KEY")``, ``"KEY": ...`` in a dict literal, ``KEY=...``
  as a keyword argument (``from_mapping``) and ``KEY = ...`` class or module
  attributes (``from_object``), whenever ``KEY`` names a database;
* environment variables: ``os.environ["KEY"]``, ``environ.get("KEY")``,
  ``getenv("KEY")``, ``environ.setdefault("KEY")`` naming a database, plus
  the variable generate gives the services their database URL in.

A name names a database when it is ``DATABASE`` or ``DB``, alone or after a
prefix (``APP_DATABASE``), optionally followed by ``_URL``, ``_URI``,
``_DSN``, ``_PATH`` or ``_FILE``: ``DB_HOST`` or ``DATABASE_POOL_SIZE`` do not.
The form of the forced value follows the name: a URL for ``..._URL``,
``..._URI`` and ``..._DSN``, Flask-SQLAlchemy's binds mapping for
``SQLALCHEMY_BINDS``, else a file path (flaskr's ``DATABASE``).  Test code
counts too: the test process must use the shared database as well.

A data folder (``DATA_FOLDER``, ``DATA_DIR``, ``DATA_DIRECTORY``, alone or after a prefix) is
where a monolith keeps its SQLite files itself, one per database (LNbits'
``lnbits_data_folder``, default ``./data``, relative to the working directory): each service
runs in its own copy of the tree, so each would have its own.  Its form is "folder": the folder
of the shared database file.  Besides the environment reads above, such a variable is also a
field of a pydantic ``BaseSettings`` class with a literal default (a folder the app keeps; not
LNbits' ``phoenixd_data_dir = Field(default=None)``, an external daemon's), read from the
environment by its name (upper-cased, after the class's literal ``env_prefix``).  Only folders are taken from settings fields: a URL
field's schemes are the app's own (LNbits' takes ``postgres://`` only): the services' database
variable, when the app refuses ``sqlite:///`` in it, has the form "unset" (removed under verify).
"""

from __future__ import annotations

import re

#: Always forced in a Flask app: Flask-SQLAlchemy reads them even when the monolith only sets them.
FLASK_SQLALCHEMY_KEYS = {"SQLALCHEMY_DATABASE_URI": "url", "SQLALCHEMY_BINDS": "binds"}

_NAME = r"[A-Z][A-Z0-9_]*"
_DATABASE_NAME = re.compile(r"^(?:[A-Z0-9_]*_)?(?:DATABASE|DB)(?:_(URL|URI|DSN|PATH|FILE))?$")
_CONFIG_PATTERNS = (
    re.compile(r"""config\s*\[\s*["'](""" + _NAME + r""")["']\s*\]"""),
    re.compile(r"""config\s*\.\s*(?:get|setdefault|pop)\s*\(\s*["'](""" + _NAME + r""")["']"""),
    re.compile(r"""["'](""" + _NAME + r""")["']\s*:"""),
    re.compile(r"""[(,]\s*(""" + _NAME + r""")\s*=(?!=)"""),
    re.compile(r"""^[ \t]*(""" + _NAME + r""")\s*(?::[^=\n]*)?=(?!=)""", re.MULTILINE),
)
_ENV_PATTERNS = (
    re.compile(r"""environ\s*\[\s*["'](""" + _NAME + r""")["']\s*\]"""),
    re.compile(r"""environ\s*\.\s*(?:get|setdefault|pop)\s*\(\s*["'](""" + _NAME + r""")["']"""),
    re.compile(r"""getenv\s*\(\s*["'](""" + _NAME + r""")["']"""),
)


_FOLDER_NAME = re.compile(r"^(?:[A-Z0-9_]*_)?DATA_(?:FOLDER|DIR|DIRECTORY)$")
#: ``name: type = ...`` in a class body (pydantic fields), any case
_FIELD = re.compile(r"""^[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*:[^=\n]*=(?!=)([^\n]*)""", re.MULTILINE)
#: a field's default that is a string literal: ``"./data"``, ``Field("./data")``, ``Field(default="./data")``
_LITERAL_DEFAULT = re.compile(r"""\s*(?:Field\(\s*(?:default\s*=\s*)?)?[rRuU]?["']""")
_ENV_PREFIX = re.compile(r"""env_prefix\s*[=:]\s*["']([A-Za-z0-9_]*)["']""")


def names_database(name: str) -> bool:
    return name in FLASK_SQLALCHEMY_KEYS or bool(_DATABASE_NAME.match(name)) or names_folder(name)


def names_folder(name: str) -> bool:
    """A data folder: where the monolith keeps its SQLite files (``LNBITS_DATA_FOLDER``)."""
    return bool(_FOLDER_NAME.match(name))


def settings_folders(text: str) -> list[str]:
    """The environment variables of the data-folder fields of pydantic settings in ``text``."""
    if "BaseSettings" not in text:
        return []
    prefix = next(iter(_ENV_PREFIX.findall(text)), "")
    return sorted({(prefix + f).upper() for f, default in _FIELD.findall(text)
                   if names_folder((prefix + f).upper()) and _LITERAL_DEFAULT.match(default)})


def form_of(name: str) -> str:
    """How a forced value is written for ``name``: "url", "binds", "folder" or "path"."""
    if name.endswith("_BINDS"):
        return "binds"
    if names_folder(name):
        return "folder"
    m = _DATABASE_NAME.match(name)
    if name in FLASK_SQLALCHEMY_KEYS:
        return FLASK_SQLALCHEMY_KEYS[name]
    if m and m.group(1) in ("URL", "URI", "DSN"):
        return "url"
    return "path"


def database_keys(sources: dict[str, str], *, database_env: str | None = None, flask: bool = True,
                  database_env_form: str = "url") -> dict[str, dict[str, str]]:
    """``{"config": {key: form}, "env": {name: form}}`` for the monolith whose modules are ``sources``.

    ``database_env_form`` "unset": the services' database variable takes only server URLs (the app's
    own scheme checks refuse ``sqlite:///``), so under verify it is removed instead: the app then keeps
    its SQLite files in its data folder, forced to the shared one (LNbits' ``LNBITS_DATABASE_URL``)."""
    config: dict[str, str] = dict(FLASK_SQLALCHEMY_KEYS) if flask else {}
    env: dict[str, str] = {}
    for text in sources.values():
        for pattern in _CONFIG_PATTERNS:
            for name in pattern.findall(text):
                if names_database(name):
                    config[name] = form_of(name)
        for pattern in _ENV_PATTERNS:
            for name in pattern.findall(text):
                if names_database(name):
                    env[name] = form_of(name)
        for name in settings_folders(text):
            env[name] = "folder"
    if database_env:
        env[database_env] = database_env_form
    if not flask:
        config = {}
    return {"config": dict(sorted(config.items())), "env": dict(sorted(env.items()))}
