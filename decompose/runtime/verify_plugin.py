"""pytest plugin of ``decompose verify``: the monolith's own suite against the split system.

Loaded with ``-p decompose.runtime.verify_plugin`` into both runs of the suite
``decompose verify`` makes (stdlib only, so that it can also be loaded by
another interpreter as a copy of this file):

``DECOMPOSE_VERIFY_MODE=monolith``
    The suite as it is.  The plugin only observes: per test, the requests
    made through in-process clients of the app, the app objects a test
    patched, the app functions the test code called directly.

``DECOMPOSE_VERIFY_MODE=split``
    The same observations, and every request a test makes through an
    in-process client of the monolith's app goes over HTTP to the split
    system's gateway (``DECOMPOSE_VERIFY_URL``):

    * Flask: ``Flask.wsgi_app`` of the app's Flask objects (so
      ``app.test_client()``, Werkzeug's ``Client`` and webtest's ``TestApp``)
      sends the request (method, path, query, headers with the cookies, body)
      to the gateway and answers with the gateway's status, headers and body,
      redirects unfollowed (the client follows them, as it would).  A test
      that pushes a request context itself and dispatches it
      (``with app.test_request_context(...): app.full_dispatch_request()``,
      privacyIDEA's whole API suite) has ``Flask.full_dispatch_request`` send
      that context's request to the gateway the same way.  Inside
      ``with client:`` the request context the test inspects is rebuilt in
      this process after the response: the same request with the cookies
      the response left, the app's ``before_request`` functions run, so
      ``session`` and ``g`` hold what the split system's request had.
    * Starlette / FastAPI: ``TestClient`` keeps its cookies, redirects and
      lifespan, but its transport sends each HTTP request to the gateway; so does
      ``httpx.ASGITransport`` of the app (``httpx.AsyncClient(transport=...)``).
      WebSocket sessions stay in process (recorded: they say nothing about
      the split system).

    Before the suite's conftest files are imported, the generated
    ``decompose_rt/verify_config.py`` of the services
    (``DECOMPOSE_VERIFY_CONFIG_MODULE``) is applied in this process too, so the
    app the suite builds reads the shared database and session key
    (``DECOMPOSE_DATABASE``, ``DECOMPOSE_SECRET_KEY_FILE``) as the services do.

Which objects are the app's: modules under the top-level packages
``DECOMPOSE_VERIFY_PACKAGES`` (comma-separated, from the output manifest),
Flask apps whose ``import_name`` is one of them, Starlette/FastAPI apps with
a route endpoint defined in one of them.

Results: one JSON file per process (xdist workers included) in the folder
``DECOMPOSE_VERIFY_REPORT``: per test id its outcome, failure message, number
of client requests, patches and direct calls.

Size: one file on purpose: ``decompose verify`` copies this very file into the suite's
own interpreter (``--python``), which has no decompose installed, so its Flask,
Starlette and Django routing cannot live in modules of their own.
"""

from __future__ import annotations

import dis
import enum
import http.client
import io
import json
import os
import sys
import threading
import time
import types
import weakref
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import pytest

MODE = os.environ.get("DECOMPOSE_VERIFY_MODE", "monolith")
URL = os.environ.get("DECOMPOSE_VERIFY_URL", "").rstrip("/")
PACKAGES = frozenset(p for p in os.environ.get("DECOMPOSE_VERIFY_PACKAGES", "").split(",") if p)
REPORT = os.environ.get("DECOMPOSE_VERIFY_REPORT", "")
CONFIG_MODULE = os.environ.get("DECOMPOSE_VERIFY_CONFIG_MODULE", "")
TIMEOUT = float(os.environ.get("DECOMPOSE_VERIFY_HTTP_TIMEOUT", "60"))
#: Seconds a test (setup, call and teardown) may take; 0: no limit.  ``DECOMPOSE_VERIFY_TEST_LIMITS``
#: names a JSON file of longer limits for single tests (those slow on the monolith already).
TEST_TIMEOUT = float(os.environ.get("DECOMPOSE_VERIFY_TEST_TIMEOUT", "0") or 0)
TEST_LIMITS_FILE = os.environ.get("DECOMPOSE_VERIFY_TEST_LIMITS", "")
#: Seconds after its limit that a test which did not stop (it caught the interruption, or it
#: waits where no signal reaches) is given before the suite is ended with what it has.
TEST_GRACE = float(os.environ.get("DECOMPOSE_VERIFY_TEST_GRACE", "30") or 30)
#: Seconds between two writes of the results while the suite runs (a suite killed from
#: outside keeps what it had finished by then).
REPORT_EVERY = 5.0
#: The monolith run's record of the suite's Django settings (in ``REPORT``), which verify gives the services.
DJANGO_SETTINGS_FILE = "django-settings.json"
ROUTING = MODE == "split" and bool(URL)
#: The services run in containers (``decompose verify`` without ``--local``): paths of this
#: file system mean nothing there.
CONTAINERS = os.environ.get("DECOMPOSE_VERIFY_CONTAINERS", "") == "1"
#: A JSON file of test ids: only these run (the rest are deselected after collection), in the
#: suite's order; verify's re-run of regressions on a freshly started split system.
ONLY_FILE = os.environ.get("DECOMPOSE_VERIFY_ONLY", "")

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade",
})
#: Modules whose objects are neither the app's nor something its services use.
_TOOLING = ("_pytest", "pytest", "pluggy", "unittest", "decompose", "decompose_verify_plugin", "py", "_py")

_lock = threading.Lock()
_current: dict | None = None
_results: dict[str, dict] = {}
_test_roots: list[str] = []


# --------------------------------------------------------------------------- what belongs to whom


def _top(module: str | None) -> str:
    return (module or "").split(".", 1)[0]


def is_app_module(module: str | None) -> bool:
    return bool(module) and (_top(module) in PACKAGES if PACKAGES else False)


def is_test_module(module: str | None) -> bool:
    """Test code: conftest/test_* modules, a tests package, or a module file under the suite's folders."""
    if not module:
        return False
    parts = module.split(".")
    if any(p in ("conftest", "tests", "test", "testing") or p.startswith("test_") or p.endswith("_test") for p in parts):
        return True
    mod = sys.modules.get(module)
    path = os.path.abspath(getattr(mod, "__file__", "") or "")
    return bool(path) and any(path.startswith(root + os.sep) for root in _test_roots)


def _module_of(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    mod = getattr(obj, "__module__", None)
    if isinstance(mod, str) and (isinstance(obj, type) or callable(obj)):
        return mod
    return type(obj).__module__


def _qualname(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(name, str) and (isinstance(obj, type) or callable(obj)):
        return f"{_module_of(obj)}.{name}"
    return f"<{type(obj).__module__}.{type(obj).__qualname__} object>"


def _record() -> dict | None:
    return _current


def _note_patch(how: str, target: str, module: str) -> None:
    rec = _record()
    if rec is None:
        return
    if is_app_module(module):
        kind = "app"
    elif is_test_module(module) or _top(module) in _TOOLING:
        return
    else:
        kind = "other"
    entry = f"{target} ({how})"
    with _lock:
        if entry not in rec["patches"][kind]:
            rec["patches"][kind].append(entry)


def _count(key: str) -> None:
    rec = _record()
    if rec is not None:
        with _lock:
            rec[key] += 1


# --------------------------------------------------------------------------- patch watching


def _install_patch_watch() -> None:
    try:
        from _pytest import monkeypatch as mp
    except ImportError:  # pragma: no cover - always there under pytest
        mp = None
    if mp is not None:
        # Our own "argument not given" marker: pytest's (notset / NOTSET) is private
        # and was renamed in pytest 9.2.
        missing = object()
        MP = mp.MonkeyPatch
        orig_setattr, orig_delattr, orig_setitem, orig_setenv = MP.setattr, MP.delattr, MP.setitem, MP.setenv

        def setattr_(self, target, name, value=missing, raising=True):
            if value is missing:  # monkeypatch.setattr("pkg.mod.attr", value)
                if isinstance(target, str):
                    _note_patch("monkeypatch.setattr", target, target.rpartition(".")[0])
                return orig_setattr(self, target, name, raising=raising)
            _note_patch("monkeypatch.setattr", f"{_qualname(target)}.{name}", _module_of(target))
            return orig_setattr(self, target, name, value, raising=raising)

        def delattr_(self, target, name=missing, raising=True):
            if name is missing:  # monkeypatch.delattr("pkg.mod.attr")
                if isinstance(target, str):
                    _note_patch("monkeypatch.delattr", target, target.rpartition(".")[0])
                return orig_delattr(self, target, raising=raising)
            _note_patch("monkeypatch.delattr", f"{_qualname(target)}.{name}", _module_of(target))
            return orig_delattr(self, target, name, raising=raising)

        def setitem_(self, dic, name, value):
            _note_mapping("monkeypatch.setitem", dic, name)
            return orig_setitem(self, dic, name, value)

        def setenv_(self, name, value, prepend=None):
            _note_env(f"monkeypatch.setenv {name}")
            return orig_setenv(self, name, value, prepend)

        MP.setattr, MP.delattr, MP.setitem, MP.setenv = setattr_, delattr_, setitem_, setenv_

    from unittest import mock

    _watch_mock(mock)
    try:  # the backport (``import mock``), its own _patch classes in mock.mock
        import mock.mock as mock_backport
    except Exception:  # noqa: BLE001 - not installed, or broken
        mock_backport = None
    if mock_backport is not None and getattr(mock_backport, "_patch", None) is not mock._patch:
        _watch_mock(mock_backport)
    _watch_log_captures()
    _watch_testfixtures_replace()


def _watch_mock(mock) -> None:
    """``mock.patch`` and ``mock.patch.dict`` of ``mock`` (unittest.mock or the backport) noted."""
    orig_enter = mock._patch.__enter__

    def enter(self):
        try:
            target = self.getter()
            _note_patch("mock.patch", f"{_qualname(target)}.{self.attribute}", _module_of(target))
        except Exception:  # noqa: BLE001 - the patch itself reports a bad target
            pass
        return orig_enter(self)

    mock._patch.__enter__ = enter
    orig_patch_dict = mock._patch_dict._patch_dict
    importer = getattr(mock, "_importer", None)

    def patch_dict(self):
        in_dict = self.in_dict
        if isinstance(in_dict, str):
            try:
                in_dict = importer(in_dict) if importer is not None else None
            except Exception:  # noqa: BLE001
                in_dict = None
        if in_dict is not None:
            _note_mapping("mock.patch.dict", in_dict, None)
        return orig_patch_dict(self)

    mock._patch_dict._patch_dict = patch_dict


def _note(key: str, value: str) -> None:
    """``value`` into the current test's list ``key`` (once)."""
    rec = _record()
    if rec is not None:
        with _lock:
            if value not in rec[key]:
                rec[key].append(value)


def _watch_log_captures() -> None:
    """Tests that read the log records of the test process (``assertLogs``, testfixtures'
    ``LogCapture``/``log_capture``, pytest's ``caplog``, below in the hooks): the records of
    the app's request handling are written in the services' processes under verify."""
    try:
        from unittest._log import _AssertLogsContext as ctx
    except ImportError:  # pragma: no cover - private module, there since Python 3.9
        ctx = None
    if ctx is not None:
        orig = ctx.__enter__

        def enter(self):
            _note("log_captures", "assertNoLogs" if getattr(self, "no_logs", False) else "assertLogs")
            return orig(self)

        ctx.__enter__ = enter
    try:
        from testfixtures import logcapture
    except Exception:  # noqa: BLE001 - not installed, or broken: nothing to watch
        return
    cls = getattr(logcapture, "LogCapture", None)
    if cls is not None and hasattr(cls, "install"):
        orig_install = cls.install

        def install(self, *args, **kwargs):
            _note("log_captures", "testfixtures.LogCapture")
            return orig_install(self, *args, **kwargs)

        cls.install = install


def _watch_testfixtures_replace() -> None:
    """testfixtures' ``Replace``/``Replacer``/``replace`` (privacyIDEA's ``Replace('privacyidea.models.utils.datetime',
    test_datetime(...))``): each replacement, not the restore of the original, noted like ``mock.patch``."""
    try:
        from testfixtures import Replacer as cls  # Replace and replace() use it too
    except Exception:  # noqa: BLE001 - not installed, or broken: nothing to watch
        return
    orig = getattr(cls, "_replace", None)
    if orig is None or getattr(orig, "_decompose_verify", False):
        return

    def _replace(self, *args, **kwargs):
        try:
            resolved = args[0]
            if hasattr(resolved, "container"):  # testfixtures >= 7: (Resolved, value)
                container, name, value = resolved.container, resolved.name, args[1]
                restoring = value is getattr(resolved, "found", None)
            else:  # older: (container, name, method, value, ...)
                container, name, restoring = args[0], args[1], False
            if not restoring:
                if container is os.environ or isinstance(container, dict):
                    _note_mapping("testfixtures.Replace", container, name)
                else:
                    _note_patch("testfixtures.Replace", f"{_qualname(container)}.{name}", _module_of(container))
        except Exception:  # noqa: BLE001 - the replacement itself reports a bad target
            pass
        return orig(self, *args, **kwargs)

    _replace._decompose_verify = True
    cls._replace = _replace


def _note_mapping(how: str, dic, name) -> None:
    if dic is os.environ:
        _note_env(f"{how} os.environ" + (f"[{name!r}]" if name is not None else ""))
        return
    key = f"[{name!r}]" if name is not None else ""
    for mod in list(sys.modules.values()):
        if getattr(mod, "__dict__", None) is dic:
            _note_patch(how, f"{mod.__name__}{key}", mod.__name__)
            return
    try:
        import flask
    except ImportError:
        return
    if isinstance(dic, flask.Config):
        rec = _record()
        if rec is not None:
            with _lock:
                entry = f"app.config{key} ({how})"
                if entry not in rec["patches"]["config"]:
                    rec["patches"]["config"].append(entry)


def _note_env(what: str) -> None:
    rec = _record()
    if rec is not None:
        with _lock:
            if what not in rec["patches"]["env"]:
                rec["patches"]["env"].append(what)


# --------------------------------------------------------------------------- direct calls

#: Packages whose objects are infrastructure, not state the app keeps: web frameworks, ORMs
#: and drivers (a module-level object of the app holding one of theirs is a database handle).
_INFRA = frozenset({"flask", "werkzeug", "starlette", "fastapi", "django", "sqlalchemy", "sqlmodel",
                    "flask_sqlalchemy", "peewee", "sqlite3", "aiosqlite", "psycopg", "psycopg2",
                    "asyncpg", "pymysql", "MySQLdb", "databases", "tortoise", "redis"})
#: Modules of the standard library whose objects are runtime state wherever they are kept
#: (events, conditions, queues): a module-level one of the app's is state the app keeps in memory.
_STATE_MODULES = frozenset({"threading", "multiprocessing.synchronize", "multiprocessing.queues",
                            "asyncio.locks", "asyncio.queues", "queue"})
#: id -> (``module:attribute``, the object) of the app's module-level objects that keep state in
#: memory (``find_app_objects``); the code objects of their classes' methods; how many modules
#: were scanned for them.
_app_objects: dict[int, tuple[str, object]] = {}
_state_codes: set = set()
_app_objects_scanned = [0]


def _is_infra(obj) -> bool:
    return any(_top(k.__module__) in _INFRA for k in type(obj).__mro__)


def _keeps_state(value) -> bool:
    """An instance of a class of the app's (not a class, function, module, enum member, settings
    object, web app or database handle), or an event/queue of the standard library: the test
    process and every service have their own."""
    if type(value).__module__ in _STATE_MODULES:
        return True
    if not is_app_module(type(value).__module__):
        return False
    try:  # isinstance asks a proxy for its __class__
        if isinstance(value, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                              types.MethodType, enum.Enum)):
            return False
        if _is_settings(value) or _is_infra(value):
            return False
        held = getattr(value, "__dict__", None)
        return not (isinstance(held, dict) and any(_is_infra(v) for v in list(held.values())[:50]))
    except Exception:  # noqa: BLE001 - a proxy that cannot be looked at outside its context
        return False


def _method_codes(cls) -> set:
    codes = set()
    for klass in cls.__mro__[:-1]:  # not object's
        for member in vars(klass).values():
            func = getattr(member, "__func__", member)  # classmethod / staticmethod
            code = getattr(func, "__code__", None)
            if code is not None:
                codes.add(code)
    return codes


def find_app_objects() -> int:
    """Index the app's module-level objects that keep state in memory (``lnbits.utils.cache:cache``,
    ``lnbits.server:server_restart``), each under the module defining its class if it holds it,
    else the first by name; again when modules were imported since."""
    names = [m for m in list(sys.modules) if is_app_module(m)]
    if len(names) == _app_objects_scanned[0]:
        return len(_app_objects)
    _app_objects_scanned[0] = len(names)
    keep = lambda attr, value: not attr.startswith("__") and _keeps_state(value)  # noqa: E731
    for key, value in _module_level(sorted(names), keep, _app_objects):
        _app_objects[id(value)] = (key, value)
        _state_codes.update(_method_codes(type(value)))
    return len(_app_objects)


def _note_app_object(frame) -> None:
    """A method of one of the app's in-memory objects called from test code: record it."""
    code = frame.f_code
    if not code.co_argcount:
        return
    first = frame.f_locals.get(code.co_varnames[0])
    entry = _app_objects.get(id(first))
    if entry is None or entry[1] is not first:
        return
    rec = _record()
    if rec is not None:
        with _lock:
            methods = rec["app_objects"].setdefault(entry[0], [])
            if code.co_name not in methods:
                methods.append(code.co_name)


def _called_from_test(frame) -> bool:
    caller = frame.f_back
    name = caller.f_globals.get("__name__", "") if caller is not None else ""
    return is_test_module(name) and name.rpartition(".")[2] != "conftest"


def _profile(frame, event, arg):
    if event != "call":
        return
    state = frame.f_code in _state_codes
    callee = frame.f_globals.get("__name__")
    app = is_app_module(callee)
    if not (state or app) or not _called_from_test(frame):
        return
    if state:
        _note_app_object(frame)
    if not app:
        return
    rec = _record()
    if rec is not None:
        name = f"{callee}.{frame.f_code.co_name}"
        with _lock:
            rec["direct_calls"][name] = rec["direct_calls"].get(name, 0) + 1


# --------------------------------------------------------------------------- Flask / WSGI


def _is_app_flask(app) -> bool:
    if not PACKAGES:
        return True
    if _top(getattr(app, "import_name", "")) in PACKAGES:
        return True
    return any(is_app_module(getattr(f, "__module__", "")) for f in getattr(app, "view_functions", {}).values())


def merge_cookies(cookie_header: str, set_cookies: list[str], now: float | None = None) -> str:
    """The ``Cookie`` header a client holds after a response: ``cookie_header`` updated by ``set_cookies``."""
    jar: dict[str, str] = {}
    for part in cookie_header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            jar[name] = value
    now = time.time() if now is None else now
    for header in set_cookies:
        first, *attrs = header.split(";")
        name, _, value = first.strip().partition("=")
        if not name:
            continue
        expired = False
        for attr in attrs:
            key, _, val = attr.strip().partition("=")
            key = key.lower()
            if key == "max-age":
                try:
                    expired = int(val) <= 0
                except ValueError:
                    pass
            elif key == "expires" and not any(a.strip().lower().startswith("max-age") for a in attrs):
                try:
                    expired = parsedate_to_datetime(val).timestamp() <= now
                except (TypeError, ValueError):
                    pass
        if expired:
            jar.pop(name, None)
        else:
            jar[name] = value
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def request_target(environ) -> str:
    """Path and query of a WSGI request, as sent on the wire (PATH_INFO holds the decoded path as latin-1)."""
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    target = quote(path.encode("latin-1"), safe="/:@!$&'()*+,;=-._~")
    qs = environ.get("QUERY_STRING", "")
    return target + ("?" + qs if qs else "")


def _read_body(environ) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH", "")
    if length.strip():
        try:
            return stream.read(int(length))
        except ValueError:
            return b""
    if environ.get("wsgi.input_terminated") or isinstance(stream, io.BytesIO):
        return stream.read()
    return b""


def send_to_gateway(method: str, target: str, headers: list[tuple[str, str]], body: bytes):
    """(status line, headers, body) of ``method target`` sent to the gateway as it is."""
    before_sending()
    url = urlsplit(URL)
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(url.hostname, url.port, timeout=TIMEOUT)
    try:
        conn.putrequest(method, (url.path.rstrip("/") + target) or "/", skip_host=True, skip_accept_encoding=True)
        names = set()
        for name, value in headers:
            conn.putheader(name, value)
            names.add(name.lower())
        if body and "content-length" not in names:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        after_answer()
        forget_app_g()
        return f"{resp.status} {resp.reason}", out, data
    finally:
        conn.close()


#: Beside the app configuration in the verify folder: the fields of the app's settings objects
#: the suite changed in this process (``sync_settings``), which the services take on per request.
SETTINGS_FILE = "app-settings.json"
#: (key ``module:attribute``, the object, its fields when first seen) of the app's settings objects.
_settings: list = []
_settings_sent: list = [None]


def _is_settings(obj) -> bool:
    """A pydantic settings object (``pydantic_settings.BaseSettings``, pydantic 1's ``BaseSettings``)."""
    if isinstance(obj, type):
        return False
    return any(k.__name__ == "BaseSettings" and k.__module__.split(".", 1)[0] in ("pydantic", "pydantic_settings")
               for k in type(obj).__mro__[1:])


def _settings_fields(obj):
    """The settings object's fields as JSON data, or None."""
    try:
        if hasattr(obj, "model_dump"):
            return json.loads(json.dumps(obj.model_dump(mode="json"), default=str))
        return json.loads(obj.json())
    except Exception:  # noqa: BLE001 - a settings object that cannot be dumped is not synchronised
        return None


def _module_level(names, keep, seen) -> list[tuple[str, object]]:
    """The module-level objects of the app's modules ``names`` for which ``keep(attr, value)`` holds
    and whose id is not in ``seen``: each once, as ``module:attribute`` under the module defining
    its class if it holds it, else the first by name; in that order."""
    found: dict[int, tuple] = {}
    for name in names:
        for attr, value in sorted(getattr(sys.modules.get(name), "__dict__", {}).items()):
            if id(value) in seen or not keep(attr, value):
                continue
            rank = (type(value).__module__ != name, name, attr)  # the module of its class first
            if id(value) not in found or rank < found[id(value)][0]:
                found[id(value)] = (rank, f"{name}:{attr}", value)
    return [(key, value) for _, key, value in sorted(found.values(), key=lambda t: t[0])]


def find_settings() -> int:
    """The app's settings objects: module-level pydantic settings instances in the app's modules
    (``lnbits.settings.settings``), each under the module defining its class if it holds it.
    Their fields as they are now are the baseline ``sync_settings`` compares with (taken once
    the suite is collected: its conftest files imported, no fixture run).  Returns how many."""
    seen = {id(o) for _, o, _ in _settings}
    names = sorted(m for m in list(sys.modules) if m.split(".", 1)[0] in PACKAGES)
    found = _module_level(names, lambda attr, value: _is_settings(value), seen)
    for key, value in found:
        fields = _settings_fields(value)
        if fields is not None:
            _settings.append((key, value, fields))
    return len(found)


#: Keys of the app's configuration each service keeps its own of (``verify._OWN_SERVING_KEYS``).
_OWN_CONFIG_KEYS = frozenset({"SERVER_NAME", "APPLICATION_ROOT", "SECRET_KEY"})
#: Key in :data:`SETTINGS_FILE` of the Flask configuration delta (never a ``module:attribute``).
FLASK_CONFIG_KEY = "flask.config"
_flask_delta: dict = {}
_suite_config: dict = {"stamp": None, "data": {}}


def _services_app_config() -> dict:
    """The configuration the services took on (``app-config.json`` in the verify folder), or {}."""
    path = os.environ.get("DECOMPOSE_APP_CONFIG_FILE", "")
    try:
        stamp = os.stat(path).st_mtime_ns if path else None
    except OSError:
        stamp = None
    if stamp != _suite_config["stamp"]:
        data = {}
        if stamp is not None:
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                data = {}
        _suite_config.update(stamp=stamp, data=data if isinstance(data, dict) else {})
    return _suite_config["data"]


def note_flask_config(app) -> None:
    """Before a request of the Flask app ``app`` goes to the split system: the keys of its
    configuration that differ from what the services took on (the app's configuration on the
    monolith run, ``app-config.json``), JSON values only: a test set them (privacyIDEA's
    ``app.config['APP_READY'] = False``, a test class's own config, the ``PI_..._PATH`` its
    documentation report shows).  An absolute path of a file or folder that exists here is left
    out when the services run in containers (their file system is not this one).
    :func:`sync_settings` writes them with the settings objects' fields."""
    base = _services_app_config()
    cwd = os.getcwd()
    delta = {}
    for key, value in sorted(dict.items(app.config), key=lambda kv: str(kv[0])):
        if not isinstance(key, str) or key in _OWN_CONFIG_KEYS:
            continue
        v = _jsonable(value, cwd)
        if v is _SKIP or base.get(key, _SKIP) == v or (
                CONTAINERS and isinstance(v, str) and os.path.isabs(v) and os.path.exists(v)):
            continue
        delta[key] = v
    _flask_delta.clear()
    _flask_delta.update(delta)


def sync_settings() -> bool:
    """Before a request goes to the split system: the fields of the app's settings objects the
    suite changed in this process since ``find_settings`` (LNbits' fixtures set
    ``settings.first_install``, ``auth_allowed_methods``...) written to :data:`SETTINGS_FILE`
    in the verify folder when they differ from what was last written; the services' generated
    ``verify_config.refresh_settings`` takes them on, and gives back their own values of the
    fields that are no longer listed.  Every object found is listed (the services compare those
    before and after each request), and a field a service changed (:func:`pull_settings`) stays
    listed with this process's value.  On the monolith the app read this very object."""
    folder = os.path.dirname(os.environ.get("DECOMPOSE_APP_CONFIG_FILE", ""))
    if not (_settings or _flask_delta or _settings_sent[0]) or not folder:
        return False
    pull_settings()
    changed = {FLASK_CONFIG_KEY: dict(_flask_delta)} if _flask_delta else {}
    for key, obj, baseline in _settings:
        now = _settings_fields(obj)
        if now is not None:
            changed[key] = {k: v for k, v in sorted(now.items())
                            if baseline.get(k, _SKIP) != v or (key, k) in _sticky}
    text = json.dumps(changed, sort_keys=True)
    if text == _settings_sent[0]:
        return False
    path = os.path.join(folder, SETTINGS_FILE)
    try:
        with open(f"{path}.{os.getpid()}.tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(f"{path}.{os.getpid()}.tmp", path)
    except OSError:
        return False
    _settings_sent[0] = text
    return True


#: The services' generated ``verify_config`` module, loaded in this process (``_apply_config_module``).
_config_module: list = [None]
#: Per file of settings fields a service changed: what it held when last read.
_pulled: dict = {}
#: (``module:attribute``, field) a service changed: listed from then on with this process's value.
_sticky: set = set()


def pull_settings() -> int:
    """The settings fields the services' own requests changed (LNbits' admin API saving the site
    title, its first-install route clearing ``first_install``), set on this process's settings
    objects as their types: each service writes them to ``app-settings.from-<service>.json`` in
    the verify folder before its answer starts (``verify_config.note_settings_changes``).  Only a
    value that changed since that file was last read is taken, so a test's own later change wins.
    On the monolith the test read the very object the app changed.  Returns how many fields."""
    module = _config_module[0]
    folder = os.path.dirname(os.environ.get("DECOMPOSE_APP_CONFIG_FILE", ""))
    prefix = getattr(module, "CHANGED_PREFIX", None)
    if not (_settings and folder and prefix and hasattr(module, "read_changed")):
        return 0
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".json"))
    except OSError:
        return 0
    objects = {key: obj for key, obj, _ in _settings}
    n = 0
    for name in names:
        last = _pulled.setdefault(name, {})
        data = module.read_changed(os.path.join(folder, name), last)
        if data is None:
            continue
        before, last["data"] = last.get("data", {}), data
        for key, fields in sorted(data.items()):
            obj = objects.get(key)
            if obj is None or not isinstance(fields, dict):
                continue
            was = before.get(key) if isinstance(before.get(key), dict) else {}
            for field, value in sorted(fields.items()):
                if was.get(field, _SKIP) == value:
                    continue
                module.set_field(obj, field, value)
                _sticky.add((key, field))
                n += 1
    if n:
        _settings_sent[0] = None  # the services hear of it with the next request
    return n


def after_answer() -> None:
    """Once the split system answered a request the suite sent: what the services changed that
    the test process holds (its ORM sessions' rows, its settings objects' fields)."""
    expire_orm_sessions()
    pull_settings()


def _async_bound(session) -> bool:
    """A session bound to an async engine (the sync session inside an ``AsyncSession``): only its
    owner's ``await`` may commit it."""
    try:
        bind = session.get_bind()
    except Exception:  # noqa: BLE001 - no bind (yet), several binds: treated as not async
        return False
    return bool(getattr(getattr(bind, "dialect", None), "is_async", False))


def commit_orm_sessions() -> int:
    """Commit the test process's SQLAlchemy sessions holding changes the test made but did not
    commit, before a request of the suite goes to the split system.  On the monolith the request
    ran on the test's own session, so its queries saw them (autoflush): privacyIDEA's
    ``db.session.add(NodeName(...))`` and then ``POST /policy/polpinode`` naming that node.  The
    services read the shared database, and an open write transaction of this process would also
    lock SQLite for them.  Sessions of async engines are left to their owner.  Returns how many
    sessions were committed."""

    def commit(session) -> bool:
        if not (session.new or session.dirty or session.deleted) or _async_bound(session):
            return False
        session.commit()
        return True

    return _each_orm_session(commit)


def _each_orm_session(action) -> int:
    """``action(session)`` on each live SQLAlchemy session of this process; how many it returned
    True for.  A session that raises (another thread's, mid-operation; a closed engine; a row the
    database refuses) is skipped: the request goes on as it would have, the test sees its own error."""
    orm = sys.modules.get("sqlalchemy.orm.session")
    sessions = getattr(orm, "_sessions", None) if orm is not None else None
    n = 0
    for session in list(sessions.values()) if sessions else ():
        try:
            n += bool(action(session))
        except Exception:  # noqa: BLE001 - see above
            continue
    return n


def before_sending() -> None:
    """Before a request of the suite goes to the split system: what the test process holds that
    the app would have seen in its process (uncommitted ORM changes, settings fields)."""
    commit_orm_sessions()
    sync_settings()


def expire_orm_sessions() -> int:
    """Expire what the test process's SQLAlchemy sessions hold, after a request the split
    system answered: its services wrote the shared database, and a session's identity map
    would go on returning the rows as the test process last read them (privacyIDEA's config
    timestamp row, read again after ``/policy/import``: no reload, no imported policies).  On
    the monolith the request ran on the test's own session, which saw its writes.  A session
    with changes not yet flushed is left alone (expiring would drop them).  Returns how many
    sessions were expired."""

    def expire(session) -> bool:
        if session.new or session.dirty or session.deleted or not session.identity_map:
            return False
        if not _async_bound(session):
            _expunge_deleted(session)
        session.expire_all()
        return True

    return _each_orm_session(expire)


def _expunge_deleted(session) -> int:
    """Detach the instances of ``session`` whose rows the split system deleted, keeping what they
    held: on the monolith the request deleted them through this very session, which leaves a
    deleted instance readable (privacyIDEA's ``token1.get_serial()`` after ``DELETE /token/``);
    expired, it would raise ``ObjectDeletedError`` at its next read.  One query per mapped
    class of the identity map.  Returns how many were detached."""
    from sqlalchemy import inspect as sa_inspect, select, tuple_

    by_mapper: dict = {}
    for key, obj in list(session.identity_map.items()):
        ident = key[1] if isinstance(key, tuple) and len(key) > 1 else None
        if ident is not None:
            by_mapper.setdefault(sa_inspect(obj).mapper.base_mapper, []).append((tuple(ident), obj))
    gone = 0
    for mapper, entries in by_mapper.items():
        columns = list(mapper.primary_key)
        if not columns:
            continue
        found: set = set()
        idents = [ident for ident, _ in entries]
        for start in range(0, len(idents), 500):  # SQLite's bound-parameter limit
            chunk = idents[start:start + 500]
            where = columns[0].in_([i[0] for i in chunk]) if len(columns) == 1 else tuple_(*columns).in_(chunk)
            found.update(tuple(row) for row in session.execute(select(*columns).where(where)))
        for ident, obj in entries:
            if ident not in found:
                session.expunge(obj)
                gone += 1
    return gone


#: Request header naming the client address of the in-process request to the split system: the
#: gateway keeps it under verify and the service makes it the request's (generated ``auth.py``).
CLIENT_HEADER = "X-Decompose-Client"
#: And the one naming its ``REMOTE_USER`` (a web server's authenticated user), when it has one.
REMOTE_USER_HEADER = "X-Decompose-Remote-User"


def _asgi_client(transport) -> str:
    """The client host an ASGI test transport gives the app (``TestClient``: ``testclient``)."""
    client = getattr(transport, "client", None)
    return str(client[0]) if isinstance(client, (tuple, list)) and client else ""


def wsgi_headers(environ) -> list[tuple[str, str]]:
    """The HTTP headers of a WSGI request, as sent on the wire (hop-by-hop ones left out), and
    :data:`CLIENT_HEADER` with its ``REMOTE_ADDR`` (empty when it has none: a Flask test request
    context's, on which privacyIDEA's client-bound policies match)."""
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.replace("_", "-").title()
        else:
            continue
        if name.lower() in HOP_BY_HOP or not str(value):
            continue
        headers.append((name, str(value)))
    if "HTTP_HOST" not in environ and environ.get("SERVER_NAME"):
        headers.append(("Host", environ["SERVER_NAME"]))
    headers.append((CLIENT_HEADER, str(environ.get("REMOTE_ADDR") or "")))
    if environ.get("REMOTE_USER") is not None:  # privacyIDEA's environ_base={"REMOTE_USER": ...}
        headers.append((REMOTE_USER_HEADER, str(environ["REMOTE_USER"])))
    return headers


def _forward_wsgi(app, environ, start_response):
    body = _read_body(environ)
    if isinstance(getattr(app, "config", None), dict):
        note_flask_config(app)
    status, out_headers, data = send_to_gateway(environ.get("REQUEST_METHOD", "GET"), request_target(environ),
                                                wsgi_headers(environ), body)
    if "werkzeug.debug.preserve_context" in environ:
        _preserve_context(app, environ, body, [v for k, v in out_headers if k.lower() == "set-cookie"])
    start_response(status, out_headers)
    return [data]


def _preserve_context(app, environ, body: bytes, set_cookies: list[str]) -> None:
    """``with client:``: the contexts the test inspects, rebuilt here from what the split system answered."""
    from flask import globals as fg

    _count("contexts")
    local = dict(environ)
    local["wsgi.input"] = io.BytesIO(body)
    local["HTTP_COOKIE"] = merge_cookies(environ.get("HTTP_COOKIE", ""), set_cookies)
    local.pop("werkzeug.debug.preserve_context", None)
    ctx = app.request_context(local)
    ctx.push()
    try:
        try:
            app.preprocess_request()  # url_value_preprocessors and before_request: what fills ``g``
        except Exception:  # noqa: BLE001 - the split system answered already; keep what was set
            pass
        environ["werkzeug.debug.preserve_context"](fg._cv_app.get())
        environ["werkzeug.debug.preserve_context"](fg._cv_request.get())
    finally:
        ctx.pop()


_SKIP = object()
_config_recorded: list[bool] = []


def _jsonable(value, cwd: str, depth: int = 0):
    """``value`` as JSON data (a relative path naming an existing file of ``cwd`` made absolute), or _SKIP."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        if value and len(value) < 1024 and not os.path.isabs(value) and ("/" in value or os.sep in value):
            full = os.path.join(cwd, value)
            if os.path.exists(full):
                return os.path.abspath(full)
        return value
    if depth > 4:
        return _SKIP
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v, cwd, depth + 1) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _jsonable(v, cwd, depth + 1) for k, v in value.items()}
        return _SKIP if any(v is _SKIP for v in items.values()) else items
    return _SKIP


def _write_report(name: str, data) -> None:
    """``data`` as ``name`` in the report folder, whole or not at all (a temporary file, then os.replace)."""
    os.makedirs(REPORT, exist_ok=True)
    path = os.path.join(REPORT, name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def _record_app_config(app) -> None:
    """The monolith run: the configuration of the first app of this process that served a request
    (``app-config-<pid>.json`` in the report folder; its JSON values, relative paths of files made
    absolute), which ``decompose verify`` gives the services of the split run."""
    if _config_recorded or MODE != "monolith" or not REPORT:
        return
    _config_recorded.append(True)
    cwd = os.getcwd()
    data = {}
    for key, value in dict.items(app.config):
        v = _jsonable(value, cwd)
        if v is not _SKIP:
            data[str(key)] = v
    try:
        _write_report(f"app-config-{os.getpid()}.json", data)
    except OSError:
        pass


#: Set in the environ of a request that came through ``Flask.wsgi_app`` (a client's request).
_THROUGH_WSGI = "decompose.verify.wsgi"


def _dispatch_to_gateway(app):
    """``app.full_dispatch_request()`` in a request context the test pushed itself
    (``with app.test_request_context("/auth", method="POST", data=...):``): the request
    of that context sent to the gateway, the gateway's answer as the app's response class."""
    from flask import request

    environ = request.environ
    body = request.get_data(cache=True)
    note_flask_config(app)
    status, headers, data = send_to_gateway(request.method, request_target(environ), wsgi_headers(environ), body)
    return app.response_class(data, status=int(status.split(" ", 1)[0]), headers=headers)


def _install_flask() -> None:
    try:
        import flask
    except ImportError:
        return
    original = flask.Flask.wsgi_app
    if getattr(original, "_decompose_verify", False):
        return
    original_dispatch = flask.Flask.full_dispatch_request

    def wsgi_app(self, environ, start_response):
        if not _is_app_flask(self):
            return original(self, environ, start_response)
        _count("requests")
        if not ROUTING:
            _record_app_config(self)
            environ[_THROUGH_WSGI] = True
            with _handling_request(f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '') or '/'}"):
                return original(self, environ, start_response)
        return _forward_wsgi(self, environ, start_response)

    def full_dispatch_request(self, *args, **kwargs):
        # A request a client sent is counted (and routed) by wsgi_app; one a test
        # dispatches in the request context it pushed is a request to the app too.
        if not _is_app_flask(self) or flask.request.environ.get(_THROUGH_WSGI):
            return original_dispatch(self, *args, **kwargs)
        _count("requests")
        if not ROUTING:
            _record_app_config(self)
            with _handling_request(f"{flask.request.method} {flask.request.path}"):
                return original_dispatch(self, *args, **kwargs)
        return _dispatch_to_gateway(self)

    for name, f, was in (("wsgi_app", wsgi_app, original), ("full_dispatch_request", full_dispatch_request,
                                                            original_dispatch)):
        f._decompose_verify = True
        f.__doc__ = was.__doc__
        setattr(flask.Flask, name, f)
    _watch_flask_g(flask)


_handling = threading.local()  # depth of the app's request handling in this thread (monolith run)


_request_serial = [0]  # number of the app's outermost request handling (monolith run)


class _handling_request:
    """The app's handling of one request in the test process (monolith run); ``what``: "METHOD path"."""

    def __init__(self, what: str = "") -> None:
        self.what = what

    def __enter__(self):
        depth = getattr(_handling, "depth", 0)
        if not depth:
            _request_serial[0] += 1
            _watch_uncommitted(self.what)
        _handling.depth = depth + 1

    def __exit__(self, *exc):
        _handling.depth -= 1
        if not _handling.depth:
            _left_uncommitted()


# --------------------------------------------------------------------------- writes left uncommitted (monolith run)
#
# A Flask test class that pushes one app context for all its requests (privacyIDEA's) gives them one
# Flask-SQLAlchemy session: what a request adds or flushes and never commits is still in that
# session's transaction when the next request (or the test) queries it, and autoflush shows it.  In
# production each request has its own app context and the session is removed at its end, which
# rolls such writes back; a service of the split system does the same.  A test that passes on the
# monolith only through such writes is no statement about the split system: the plugin records the
# requests whose uncommitted writes a later query of the same session saw.

_request_changes = threading.local()  # per thread: {"what", "before": ids of changes pending at its start}
_flushed: "weakref.WeakSet" = weakref.WeakSet()  # sessions the current request flushed its own writes into
_left_by: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # session -> request whose writes it holds
_orm_watch = [False]


def _pending_ids(session) -> set:
    """Ids of the instances ``session`` would write at its next flush."""
    ids = {id(o) for o in session.new} | {id(o) for o in session.deleted}
    return ids | {id(o) for o in session.dirty if session.is_modified(o)}


def _install_orm_watch() -> bool:
    """Session events of SQLAlchemy (once it is imported) that tell which writes a request left."""
    if _orm_watch[0]:
        return True
    if "sqlalchemy.orm" not in sys.modules:
        return False
    try:
        from sqlalchemy import event
        from sqlalchemy.orm import Session
    except Exception:  # noqa: BLE001 - a broken or partial SQLAlchemy: nothing to watch
        return False
    _orm_watch[0] = True

    def after_flush(session, _context) -> None:
        state = getattr(_request_changes, "state", None)
        if state is not None and getattr(_handling, "depth", 0) and _pending_ids(session) - state["before"]:
            _flushed.add(session)

    def after_transaction_end(session, transaction) -> None:
        if getattr(transaction, "parent", None) is None:  # the root transaction: committed or rolled back
            _flushed.discard(session)
            _left_by.pop(session, None)

    def do_orm_execute(state) -> None:
        left = _left_by.get(state.session)
        if left is None:
            return
        owner = left[1]() if left[1] is not None else None
        if owner is None or owner is not _current_request():  # not that request's own teardown
            _note("uncommitted", left[0])

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "after_transaction_end", after_transaction_end)
    event.listen(Session, "do_orm_execute", do_orm_execute)
    return True


def _current_request():
    """Flask's request object of this context (its teardown still to come), else None."""
    flask = sys.modules.get("flask")
    try:
        return flask.request._get_current_object() if flask is not None and flask.has_request_context() else None
    except Exception:  # noqa: BLE001 - no request context
        return None


def _watch_uncommitted(what: str) -> None:
    if MODE != "monolith" or not _install_orm_watch():
        return
    before: set = set()

    def pending(session) -> bool:
        before.update(_pending_ids(session))
        return False

    _each_orm_session(pending)
    _request_changes.state = {"what": what, "before": before}


def _left_uncommitted() -> None:
    """At the end of a request's handling: each session still holding writes it made uncommitted."""
    state = getattr(_request_changes, "state", None)
    _request_changes.state = None
    if state is None:
        return

    request = _current_request()
    ref = weakref.ref(request) if request is not None else None

    def left(session) -> bool:
        flushed = session in _flushed
        _flushed.discard(session)
        if flushed or _pending_ids(session) - state["before"]:
            _left_by[session] = (state["what"], ref)
        return False

    _each_orm_session(left)


#: Per ``flask.g`` of the test process, the names the app's own code set on it (split run).
_app_g_names: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def forget_app_g() -> list[str]:
    """Drop from the current ``flask.g`` what the app's own code set on it in the test process, after
    a request the split system answered.  The monolith's request handling would have reset that
    request-scoped state (privacyIDEA's ``before_request`` clears the config snapshot it keeps in
    ``g``, and saving the config invalidates it); routed to a service, it did not run here, and a
    test whose app context outlives its requests (privacyIDEA's ``setUpClass`` pushes one per
    class) went on reading the snapshot of an earlier test: no imported policies, then 403s for
    every later test.  Names the test's own code set stay.  Returns the names dropped."""
    flask = sys.modules.get("flask")
    if flask is None or not _app_g_names:
        return []
    try:
        if not flask.has_app_context():
            return []
        g = flask.g._get_current_object()
    except Exception:  # no usable app context: nothing of ours to reset
        return []
    names = _app_g_names.pop(g, set())
    dropped = []
    for name in sorted(names):
        if name in g.__dict__:
            g.__dict__.pop(name, None)
            dropped.append(name)
    return dropped


def _watch_flask_g(flask) -> None:
    """Names of ``flask.g`` the app's request handling sets in the test process (monolith run),
    and names the test looks up on a ``g`` that lacks them (split run): privacyIDEA's suite
    reads ``self.app_context.g.audit_object`` after dispatching, set by the app's
    ``before_request``, which under verify runs in a service."""
    cls = getattr(getattr(flask, "ctx", None), "_AppCtxGlobals", None)
    if cls is None or getattr(cls.__setattr__, "_decompose_verify", False):
        return
    orig_set, orig_get, orig_getattribute = cls.__setattr__, cls.__getattr__, cls.__getattribute__

    def setattr_(self, name, value):
        if not ROUTING:
            handling = getattr(_handling, "depth", 0)
            if handling:
                _note("g_set", name)
            try:
                _g_origin.setdefault(self, {})[name] = _request_serial[0] if handling else 0
            except TypeError:  # a g that cannot be weakly referenced: nothing to compare later
                pass
        elif is_app_module(sys._getframe(1).f_globals.get("__name__", "")):
            try:
                _app_g_names.setdefault(self, set()).add(name)
            except TypeError:  # a g that cannot be weakly referenced: nothing to forget later
                pass
        return orig_set(self, name, value)

    def getattr_(self, name):
        if ROUTING and not name.startswith("__") and is_test_module(sys._getframe(1).f_globals.get("__name__", "")):
            _note("g_missing", name)  # looked up by the test's own code
        return orig_get(self, name)

    def getattribute_(self, name):
        value = orig_getattribute(self, name)
        if getattr(_handling, "depth", 0) and not name.startswith("__"):
            _note_carried_g(self, name, sys._getframe(1))
        return value

    setattr_._decompose_verify = getattr_._decompose_verify = getattribute_._decompose_verify = True
    cls.__setattr__, cls.__getattr__ = setattr_, getattr_
    if not ROUTING:
        cls.__getattribute__ = getattribute_
        for method in ("__contains__", "get", "setdefault", "pop"):
            if callable(getattr(cls, method, None)):
                setattr(cls, method, _probing(getattr(cls, method)))


def _probing(method):
    """``method`` of ``flask.g`` (``__contains__``, ``get``...) noting the name the app's code asks for."""

    def probe(self, name, *args, **kwargs):
        _note_probed_g(self, name, sys._getframe(1))
        return method(self, name, *args, **kwargs)

    probe.__name__ = method.__name__
    return probe


#: Per ``flask.g`` (monolith run): name -> number of the request handling that set it (0: set outside one).
_g_origin: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_ATTRIBUTE_OPS = frozenset(op for name, op in dis.opmap.items() if name in ("LOAD_ATTR", "LOAD_METHOD"))


#: Per ``flask.g`` (monolith run): name -> number of the request handling whose app code last asked
#: whether ``g`` has it (``name in g``, ``g.get``/``setdefault``/``pop``, ``hasattr``, ``getattr``
#: with a default): that request copes with a ``g`` without it.
_g_probed: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _note_probed_g(g, name, frame) -> None:
    if getattr(_handling, "depth", 0) and isinstance(name, str) and is_app_module(frame.f_globals.get("__name__", "")):
        try:
            _g_probed.setdefault(g, {})[name] = _request_serial[0]
        except TypeError:
            pass


def _note_carried_g(g, name: str, frame) -> None:
    """The app's request handling reads, by plain attribute access (``g.serial``; not ``hasattr`` or
    ``getattr(g, name, default)``), a name of ``g`` that this request did not set and did not first
    ask for: state an earlier request or the test left in an app context that outlives requests
    (privacyIDEA's test classes push one for the whole class).  A service's request starts with an
    empty ``g``.  A name the request asked for first (``if "_request_local_store" not in g: g... =
    {}``, privacyIDEA's request-local store) is one it creates when it is missing: reusing an
    earlier request's is no dependence on it."""
    try:
        origins = _g_origin.get(g)
    except TypeError:
        return
    if not origins or name not in origins or origins[name] == _request_serial[0]:
        return
    if not is_app_module(frame.f_globals.get("__name__", "")):
        return
    code = frame.f_code.co_code
    if not (0 <= frame.f_lasti < len(code) and code[frame.f_lasti] in _ATTRIBUTE_OPS):
        _note_probed_g(g, name, frame)  # hasattr(g, name), getattr(g, name, default)
        return
    if _g_probed.get(g, {}).get(name) != _request_serial[0]:
        _note("g_carried", name)


# --------------------------------------------------------------------------- Starlette / FastAPI


_asgi_apps: dict[int, bool] = {}


def _is_app_asgi(app, depth: int = 0) -> bool:
    if not PACKAGES:
        return True
    key = id(app)
    if key in _asgi_apps:
        return _asgi_apps[key]
    found = False
    stack = [(app, 0)]
    seen = set()
    while stack and not found:
        obj, d = stack.pop()
        if id(obj) in seen or d > 8:
            continue
        seen.add(id(obj))
        for route in getattr(obj, "routes", None) or []:
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None and is_app_module(getattr(endpoint, "__module__", "")):
                found = True
                break
            for attr in ("app", "original_router"):
                sub = getattr(route, attr, None)
                if sub is not None:
                    stack.append((sub, d + 1))
        for attr in ("app", "router", "middleware_stack"):
            sub = getattr(obj, attr, None)
            if sub is not None and sub is not obj:
                stack.append((sub, d + 1))
        # an app wrapped by a function (asgi-lifespan's ``LifespanManager.app``, which LNbits'
        # suite sends its requests to) holds it in its closure
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                stack.append((cell.cell_contents, d + 1))
            except ValueError:  # an empty cell
                pass
        if is_app_module(getattr(getattr(obj, "__class__", None), "__module__", "")):
            found = True
    _asgi_apps[key] = found
    return found


_transports: dict[str, object] = {}


def _install_starlette() -> None:
    import importlib.util
    import warnings

    if importlib.util.find_spec("starlette") is None:
        return
    try:
        with warnings.catch_warnings():  # e.g. starlette's own deprecation of httpx: not the suite's business
            warnings.simplefilter("ignore")
            from starlette import testclient
    except Exception:  # noqa: BLE001 - its HTTP client is missing
        return
    transport_cls = getattr(testclient, "_TestClientTransport", None)
    if transport_cls is None or getattr(transport_cls.handle_request, "_decompose_verify", False):
        return
    original = transport_cls.handle_request

    def handle_request(self, request):
        if not _is_app_asgi(self.app):
            return original(self, request)
        if request.url.scheme in ("ws", "wss"):
            _count("websockets")
            return original(self, request)
        _count("requests")
        if not ROUTING:
            return original(self, request)
        httpx = sys.modules[type(request).__module__.split(".")[0]]
        before_sending()
        gateway = httpx.URL(URL)
        url = request.url.copy_with(scheme=gateway.scheme, host=gateway.host, port=gateway.port)
        headers = httpx.Headers(request.headers)
        headers[CLIENT_HEADER] = _asgi_client(self)
        forwarded = httpx.Request(request.method, url, headers=headers, content=request.read())
        transport = _transports.get(httpx.__name__)
        if transport is None:
            transport = _transports[httpx.__name__] = httpx.HTTPTransport()
        response = transport.handle_request(forwarded)
        after_answer()  # the answer has begun: the request's writes are committed
        return response

    handle_request._decompose_verify = True
    transport_cls.handle_request = handle_request


def _install_httpx_asgi() -> None:
    """``httpx.AsyncClient(transport=httpx.ASGITransport(app))`` (LNbits' whole API suite): the
    transport sends each request of the app's to the gateway, as a ``TestClient``'s does; the
    client keeps its cookies and redirects."""
    import importlib.util

    if importlib.util.find_spec("httpx") is None:
        return
    import httpx

    transport_cls = getattr(httpx, "ASGITransport", None)
    if transport_cls is None or getattr(transport_cls.handle_async_request, "_decompose_verify", False):
        return
    original = transport_cls.handle_async_request

    async def handle_async_request(self, request):
        if not _is_app_asgi(self.app):
            return await original(self, request)
        _count("requests")
        if not ROUTING:
            return await original(self, request)
        before_sending()
        gateway = httpx.URL(URL)
        url = request.url.copy_with(scheme=gateway.scheme, host=gateway.host, port=gateway.port)
        headers = httpx.Headers(request.headers)
        headers[CLIENT_HEADER] = _asgi_client(self)
        forwarded = httpx.Request(request.method, url, headers=headers, content=await request.aread())
        # one transport per event loop: a pooled connection belongs to the loop that opened it
        async with httpx.AsyncHTTPTransport() as transport:
            response = await transport.handle_async_request(forwarded)
            content = await response.aread()
        after_answer()
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              extensions={k: v for k, v in response.extensions.items() if k == "http_version"})

    handle_async_request._decompose_verify = True
    transport_cls.handle_async_request = handle_async_request


# --------------------------------------------------------------------------- Django


def _is_app_django() -> bool:
    if not PACKAGES:
        return True
    from django.conf import settings

    return _top(getattr(settings, "ROOT_URLCONF", "")) in PACKAGES


def django_response(status: str, headers: list[tuple[str, str]], data: bytes):
    """A django ``HttpResponse`` holding what the gateway answered (its ``Set-Cookie`` headers as ``cookies``)."""
    from http.cookies import SimpleCookie

    from django.http import HttpResponse

    code, _, reason = status.partition(" ")
    response = HttpResponse(data, status=int(code), reason=reason or None)
    for name in list(response.headers):
        del response.headers[name]
    cookies = SimpleCookie()
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookies.load(value)
        elif name.lower() in response.headers:
            response.headers[name] = response.headers[name] + ", " + value
        else:
            response.headers[name] = value
    response.cookies = cookies
    if "Location" in response.headers:  # what HttpResponseRedirect offers and Client(follow=True) reads
        response.url = response.headers["Location"]
    return response


#: The services' root urlconf (the monolith's own, from the output manifest): the suite's paths map onto it.
SERVICES_URLCONF = os.environ.get("DECOMPOSE_VERIFY_DJANGO_URLCONF", "")
#: Header telling a service under verify that the request comes from a test ``Client`` that does not
#: enforce CSRF checks (Django's default): it sets ``request._dont_enforce_csrf_checks`` as the client's
#: handler does in process (decompose_rt/settings.py).
CSRF_HEADER = "X-Decompose-Verify-Csrf-Exempt"
#: What a routed response cannot hold: Django fills them from template rendering in the rendering process.
_TEMPLATE_ATTRS = ("context", "templates")


def map_django_path(path: str, from_urlconf: str, to_urlconf: str) -> str:
    """``path`` of a view in ``from_urlconf``, at the path the same view has in ``to_urlconf``.

    The view is the resolved pattern's name (with its namespaces) or, unnamed, its callable,
    reversed with the same arguments.  A path that does not resolve, or whose view
    ``to_urlconf`` does not have, stays as it is (a 404 test keeps its 404)."""
    if not from_urlconf or not to_urlconf or from_urlconf == to_urlconf:
        return path
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    try:
        match = resolve(path, urlconf=from_urlconf)
        view = match.view_name if match.url_name else match.func
        return reverse(view, args=match.args, kwargs=match.kwargs, urlconf=to_urlconf)
    except (Resolver404, NoReverseMatch, ImportError, ValueError, TypeError):
        return path


def _suite_urlconf() -> str:
    from django.conf import settings

    urlconf = getattr(settings, "ROOT_URLCONF", "")
    return urlconf if isinstance(urlconf, str) else ""


def _mapped_target(environ) -> str:
    """The request's path and query, its path mapped from the suite's urlconf to the services'."""
    target = request_target(environ)
    path, sep, query = target.partition("?")
    from urllib.parse import unquote

    mapped = map_django_path(unquote(path), _suite_urlconf(), SERVICES_URLCONF)
    if mapped == unquote(path):
        return target
    return quote(mapped, safe="/:@!$&'()*+,;=-._~") + sep + query


def map_location(value: str, from_urlconf: str, to_urlconf: str) -> str:
    """A redirect's ``Location`` within the app mapped by :func:`map_django_path`, and so are the paths
    its query carries (``?next=/private/`` of a login redirect)."""
    from urllib.parse import parse_qsl, urlencode

    parts = urlsplit(value)
    if parts.netloc and parts.hostname not in ("testserver", urlsplit(URL).hostname):
        return value
    path = map_django_path(parts.path, from_urlconf, to_urlconf) if parts.path else parts.path
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    mapped = [(k, map_django_path(v, from_urlconf, to_urlconf) if v.startswith("/") else v) for k, v in pairs]
    query = urlencode(mapped, safe="/") if mapped != pairs else parts.query
    if (path, query) == (parts.path, parts.query):
        return value
    return path + ("?" + query if query else "") + ("#" + parts.fragment if parts.fragment else "")


def _map_location(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``Location`` of a redirect within the app, mapped back to the paths the suite's urlconf gives."""
    return [(name, map_location(value, SERVICES_URLCONF, _suite_urlconf()) if name.lower() == "location" else value)
            for name, value in headers]


_observing: dict[type, type] = {}


def _note_template_read(attr: str) -> None:
    _note("template_reads", attr)


def observe_template_reads(response):
    """``response`` whose ``context`` and ``templates`` (what ``assertTemplateUsed`` reads) note each read."""
    cls = type(response)
    if getattr(cls, "_decompose_verify", False):
        return response
    if cls not in _observing:

        def attr(name):
            def get(self):
                if sys._getframe(1).f_globals.get("__name__") != "django.test.client":  # the client's own reads
                    _note_template_read(f"response.{name}")
                return self.__dict__.get("_decompose_" + name, [] if name == "templates" else None)

            def set_(self, value):
                self.__dict__["_decompose_" + name] = value

            return property(get, set_)

        _observing[cls] = type(cls.__name__, (cls,), {"_decompose_verify": True, "__module__": cls.__module__,
                                                      **{n: attr(n) for n in _TEMPLATE_ATTRS}})
    try:
        response.__class__ = _observing[cls]
    except TypeError:  # a response class with __slots__ or a C layout: left unobserved
        pass
    return response


def _install_django() -> None:
    import importlib.util

    if importlib.util.find_spec("django") is None:
        return
    try:
        from django.test import client as django_client
    except Exception:  # noqa: BLE001 - a Django too broken to import is the suite's to report
        return

    original = django_client.ClientHandler.__call__
    if getattr(original, "_decompose_verify", False):
        return

    def __call__(self, environ):
        if not _is_app_django():
            return original(self, environ)
        _count("requests")
        if not ROUTING:
            return observe_template_reads(original(self, environ))
        from django.core.handlers.wsgi import WSGIRequest

        request = WSGIRequest(dict(environ))
        headers = wsgi_headers(environ)
        if not self.enforce_csrf_checks:
            headers.append((CSRF_HEADER, "1"))
        status, headers, data = send_to_gateway(environ.get("REQUEST_METHOD", "GET"), _mapped_target(environ),
                                                headers, _read_body(environ))
        response = observe_template_reads(django_response(status, _map_location(headers), data))
        response.wsgi_request = request
        return response

    __call__._decompose_verify = True
    __call__.__doc__ = original.__doc__
    django_client.ClientHandler.__call__ = __call__
    if ROUTING:
        from django.test import testcases

        # the services see only committed rows: TestCase runs as Django runs it on a database without
        # transactions (setUpTestData per test, tables flushed after each), never inside an atomic block
        testcases.TestCase._databases_support_transactions = classmethod(lambda cls: False)


def share_django_database(path: str) -> bool:
    """Point Django's ``default`` database, and the test database made from it, at the services' SQLite file.

    False when Django's settings are not configured (the suite is not a Django suite)."""
    from django.conf import settings
    from django.db import connections

    if not settings.configured:
        return False
    default = dict(settings.DATABASES.get("default") or {})
    default.update(ENGINE="django.db.backends.sqlite3", NAME=path,
                   TEST={**(default.get("TEST") or {}), "NAME": path})
    settings.DATABASES = {**settings.DATABASES, "default": default}
    connections._settings = None  # the handler re-reads DATABASES
    connections.__dict__.pop("settings", None)
    from asgiref.local import Local  # Django's own dependency, what its handler keeps connections in

    connections._connections = Local(connections.thread_critical)  # connections made with the old settings
    key_file = os.environ.get("DECOMPOSE_SECRET_KEY_FILE", "")
    if key_file and os.path.isfile(key_file):
        # sessions the test process writes (client.login, force_login) and the session auth hash of
        # their user are signed with SECRET_KEY: the services take the same one from this file
        with open(key_file, encoding="utf-8") as f:
            key = f.read().strip()
        if key:
            settings.SECRET_KEY = key
    return True


#: Settings the services keep their own of, whatever the suite's say: their urlconf, database and key
#: are verify's, their entry points their own.
_SERVICE_OWN_SETTINGS = frozenset({"ROOT_URLCONF", "DATABASES", "DATABASE_ROUTERS", "SECRET_KEY", "SECRET_KEY_FALLBACKS",
                                   "SETTINGS_MODULE", "WSGI_APPLICATION", "ASGI_APPLICATION"})


def _plain(value):
    """``value`` as JSON data (tuples as lists), or a ``ValueError`` when it is not plain data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v) for k, v in value.items()}
    raise ValueError(type(value).__name__)


def suite_django_settings() -> dict:
    """The settings the suite runs its app with (its test settings module, as Django's test runner sets
    them up), for the services under verify: every setting the suite sets itself (not Django's
    defaults) that is plain data, but :data:`_SERVICE_OWN_SETTINGS`.

    ``{"module": ..., "settings": {name: value}, "kept": [set, but not plain data], "own": [...]}``:
    a service keeps its own value of ``kept`` and ``own`` names and drops the other settings of its
    base that the suite does not set (Django's default applies, as in the test process)."""
    from django.conf import settings

    out: dict = {}
    kept: list[str] = []
    for name in dir(settings):
        if not name.isupper() or name in _SERVICE_OWN_SETTINGS or not settings.is_overridden(name):
            continue
        try:
            out[name] = _plain(getattr(settings, name))
        except ValueError:
            kept.append(name)
    # what django.test.utils.setup_test_environment does for every test run, in the test process
    out["DEBUG"] = False
    out["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    out["ALLOWED_HOSTS"] = [*(out.get("ALLOWED_HOSTS") or []), "testserver"]
    return {"module": getattr(settings, "SETTINGS_MODULE", "") or "", "settings": out, "kept": sorted(kept),
            "own": sorted(_SERVICE_OWN_SETTINGS)}


def _write_django_settings() -> None:
    """Monolith run: the suite's settings next to its results (verify hands them to the services)."""
    from django.conf import settings

    if not (REPORT and settings.configured):
        return
    _write_report(DJANGO_SETTINGS_FILE, suite_django_settings())


# --------------------------------------------------------------------------- the shared database


def share_temporary_folders() -> bool:
    """Split run with containers: the suite's temporary folders (``TMPDIR``, which verify points
    into the folder mounted at the same path in every service) readable and writable by the
    services' user.  pytest makes its ``tmp_path`` folders 0700 and the test's own files follow its
    umask; privacyIDEA's CA connector test stores a ``tmp_path`` folder in the database, where a
    service writes its certificate requests.  The umask is cleared and pytest's and
    ``tempfile.mkdtemp``'s folders under ``TMPDIR`` are opened up as they are made."""
    import tempfile

    root = os.environ.get("TMPDIR", "")
    if not (ROUTING and CONTAINERS and root and os.path.isdir(root)):
        return False
    root = os.path.realpath(root)
    os.umask(0)

    def opened(path):
        real = os.path.realpath(str(path))
        while real.startswith(root + os.sep):
            try:
                os.chmod(real, 0o777)
            except OSError:
                break
            real = os.path.dirname(real)
        return path

    try:
        from _pytest.tmpdir import TempPathFactory
    except ImportError:  # pragma: no cover - always there under pytest
        TempPathFactory = None
    if TempPathFactory is not None and not getattr(TempPathFactory.mktemp, "_decompose_verify", False):
        orig_base, orig_mktemp = TempPathFactory.getbasetemp, TempPathFactory.mktemp

        def getbasetemp(self):
            return opened(orig_base(self))

        def mktemp(self, basename, numbered=True):
            return opened(orig_mktemp(self, basename, numbered))

        mktemp._decompose_verify = True
        TempPathFactory.getbasetemp, TempPathFactory.mktemp = getbasetemp, mktemp
    orig_mkdtemp = tempfile.mkdtemp
    if not getattr(orig_mkdtemp, "_decompose_verify", False):
        def mkdtemp(*args, **kwargs):
            return opened(orig_mkdtemp(*args, **kwargs))

        mkdtemp._decompose_verify = True
        tempfile.mkdtemp = mkdtemp
    return True


def _apply_config_module() -> str:
    if not (ROUTING and CONFIG_MODULE):
        return ""
    import importlib.util

    spec = importlib.util.spec_from_file_location("decompose_verify_config", CONFIG_MODULE)
    if spec is None or spec.loader is None:
        return f"cannot load {CONFIG_MODULE}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _config_module[0] = module
    try:  # the test process never takes the services' own database variable
        applied = module.apply(service_env=False)
    except TypeError:  # generated by a decompose without that parameter
        applied = module.apply()
    return "database and secret key shared with the services" if applied else ""


# --------------------------------------------------------------------------- per-test time limit


try:  # pytest's own failure: anyio's test runner goes on after it, the app's ``except Exception`` does not catch it
    from _pytest.outcomes import Failed as _Failed
except ImportError:  # pragma: no cover - the plugin runs inside pytest
    _Failed = BaseException


class TestTimedOut(_Failed):
    """Raised in a test that runs past its limit.  A pytest failure (a BaseException), so that the
    app's ``except Exception`` does not swallow it and anyio's test runner, which runs every async
    test of the session in one task, carries on with the next test."""

    __test__ = False


_limits: dict[str, float] = {}
_deadline = {"at": 0.0, "limit": 0.0, "nodeid": "", "cancelled": False}
_last_write = [0.0]


def _read_limits() -> None:
    if not TEST_LIMITS_FILE:
        return
    try:
        with open(TEST_LIMITS_FILE, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return
    _limits.update({str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))})


def test_limit(nodeid: str) -> float:
    """Seconds ``nodeid`` may take (0: no limit)."""
    if not TEST_TIMEOUT:
        return 0.0
    return max(TEST_TIMEOUT, _limits.get(nodeid, 0.0))


def timed_out_message(limit: float) -> str:
    where = "on the split system" if MODE == "split" else "on the monolith"
    return (f"timed out {where}: still running after {limit:.0f}s "
            "(decompose verify's per-test limit, --test-timeout)")


#: Seconds an interrupted asyncio test is given to stop before it is interrupted the hard way.
CANCEL_GRACE = 10.0


def _runs_test_code(task) -> bool:
    coro = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None and is_test_module(frame.f_globals.get("__name__", "")):
            return True
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return False


def _running_test_task():
    """The asyncio task of the main thread's running loop whose await chain runs code of a test
    module (the test's own task under pytest-asyncio or ``asyncio.run``; anyio's one runner task,
    shared by every test of the session), else the task ``run_until_complete`` waits for; None
    when no loop runs in this thread."""
    asyncio = sys.modules.get("asyncio")
    loop = asyncio._get_running_loop() if asyncio is not None else None
    if loop is None:
        return None
    tasks = sorted(asyncio.all_tasks(loop), key=id)
    for task in tasks:
        if _runs_test_code(task):
            return task
    for task in tasks:  # asyncio.run(library_coroutine()): no frame of the test module awaits
        if any(getattr(cb, "__name__", "") in ("_run_until_complete_cb", "done_cb")
               for cb, *_ in getattr(task, "_callbacks", None) or ()):
            return task
    return None


def _interrupt_task(task, message: str) -> None:
    """Raise ``TestTimedOut`` in ``task`` where it awaits: the task is detached from the future
    it waits on and woken with the failure.  Cancelling the task instead would end anyio's
    runner (it re-raises CancelledError), and every later test of the session fails with
    ``ClosedResourceError``.  A plain future it waited on is cancelled (its timer or queue
    forgets it); a task it awaited keeps running.  A task no longer waiting is left to the hard
    interruption ``CANCEL_GRACE`` seconds later."""
    asyncio = sys.modules["asyncio"]
    waiter = getattr(task, "_fut_waiter", None)
    wakeups = [cb for cb, *_ in getattr(waiter, "_callbacks", None) or () if getattr(cb, "__self__", None) is task]
    if task.done() or not wakeups:
        return
    for cb in wakeups:
        waiter.remove_done_callback(cb)
    if not isinstance(waiter, asyncio.Task):
        waiter.cancel()
    failed = task.get_loop().create_future()
    failed.set_exception(TestTimedOut(message))
    wakeups[0](failed)


def _on_alarm(signum, frame):
    """At a test's limit: an asyncio test waiting in the loop gets ``TestTimedOut`` raised where
    it awaits, from a callback of its loop (the loop, often shared by the session's fixtures,
    stays whole; the test's ``finally`` blocks run); anything else is interrupted by the
    exception raised where it runs.  A test that has not stopped ``CANCEL_GRACE`` seconds later
    is interrupted the hard way."""
    import signal

    limit = _deadline["limit"]
    if _current is not None:
        _current["timed_out"] = limit
    task = None if _deadline.get("cancelled") else _running_test_task()
    if task is not None and getattr(task, "_fut_waiter", None) is not None:
        _deadline["cancelled"] = True
        task.get_loop().call_soon_threadsafe(_interrupt_task, task, timed_out_message(limit))
        signal.setitimer(signal.ITIMER_REAL, CANCEL_GRACE)
        return
    raise TestTimedOut(timed_out_message(limit))


def _can_signal() -> bool:
    import signal

    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None, _on_alarm))


def _arm(nodeid: str) -> bool:
    """Start ``nodeid``'s clock: SIGALRM interrupts it at its limit where it can, the watchdog ends the suite
    if it still runs ``TEST_GRACE`` seconds later.  True if the alarm is set (to be disarmed)."""
    limit = test_limit(nodeid)
    _deadline.update(at=time.monotonic() + limit if limit else 0.0, limit=limit, nodeid=nodeid, cancelled=False)
    if not limit or not _can_signal():
        return False
    import signal

    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    return True


def _disarm(armed: bool) -> None:
    _deadline.update(at=0.0, limit=0.0, nodeid="", cancelled=False)
    if armed:
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def _watchdog(worker: str) -> None:
    """Ends the suite when a test outlives its limit by ``TEST_GRACE`` seconds: the test is recorded as
    timed out, the results so far are written, the process exits (status 3)."""
    while True:
        time.sleep(1.0)
        at, nodeid, limit = _deadline["at"], _deadline["nodeid"], _deadline["limit"]
        if not at or time.monotonic() < at + TEST_GRACE:
            continue
        rec = _results.setdefault(nodeid, _new_record(nodeid))
        rec.update(outcome="failed", when="call", timed_out=limit,
                   message=timed_out_message(limit) + f"; it did not stop, so the suite was ended after it")
        sys.stderr.write(f"\ndecompose verify: {nodeid}: {rec['message']}\n")
        sys.stderr.flush()
        try:
            _write_results(worker, exitstatus=3)
        finally:
            os._exit(3)


def _write_results(worker: str, exitstatus: int | None = None) -> None:
    if not REPORT:
        return
    _write_report(f"results-{worker}.json", {"mode": MODE, "url": URL, "worker": worker,
                                            "config": _STATUS["config"], "tests": _results,
                                            "exitstatus": exitstatus})
    _last_write[0] = time.monotonic()


def _worker_id(config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


# --------------------------------------------------------------------------- pytest hooks


def _new_record(nodeid: str) -> dict:
    return {
        "outcome": "", "message": "", "when": "", "duration": 0.0,
        "requests": 0, "contexts": 0, "websockets": 0, "template_reads": [],
        "patches": {"app": [], "other": [], "config": [], "env": []},
        "direct_calls": {}, "app_objects": {}, "log_captures": [], "g_set": [], "g_missing": [], "g_carried": [],
        "uncommitted": [],
    }


def _set_outcome(rec: dict, outcome: str, report) -> None:
    rec["outcome"] = outcome
    rec["when"] = report.when
    message = ""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None:
        message = crash.message
    elif report.longrepr is not None:
        text = str(report.longrepr) if not isinstance(report.longrepr, tuple) else str(report.longrepr[-1])
        message = text.strip().splitlines()[-1] if text.strip() else ""
    rec["message"] = " ".join(message.split())[:500]


_STATUS = {"config": "", "routing": ""}
_worker = ["main"]


@pytest.hookimpl(trylast=True)  # after pytest-django has configured the settings
def pytest_configure(config) -> None:
    database = os.environ.get("DECOMPOSE_DATABASE", "")
    if ROUTING and database and "django" in sys.modules:
        share_django_database(database)
    if MODE == "monolith" and "django" in sys.modules and not hasattr(config, "workerinput"):
        _write_django_settings()
    share_temporary_folders()
    for arg in config.args or []:
        path = os.path.abspath(str(arg).split("::", 1)[0])
        _test_roots.append(path if os.path.isdir(path) else os.path.dirname(path))
    _worker[0] = _worker_id(config)
    if TEST_TIMEOUT:
        _read_limits()
        threading.Thread(target=_watchdog, args=(_worker[0],), name="decompose-verify-watchdog",
                         daemon=True).start()


def pytest_report_header(config):
    if ROUTING:
        extra = f"; {_STATUS['config']}" if _STATUS["config"] else ""
        return [f"decompose verify: in-process clients of {', '.join(sorted(PACKAGES)) or 'any app'} go to {URL}{extra}"]
    return ["decompose verify: the monolith as it is (observing clients and patches)"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Marks the test whose requests and patches follow (its setup, call and teardown)."""
    global _current
    _current = _results.setdefault(item.nodeid, _new_record(item.nodeid))
    _current.setdefault("seq", len(_results))
    if "caplog" in getattr(item, "fixturenames", ()):
        _note("log_captures", "caplog")
    armed = _arm(item.nodeid)
    try:
        yield
    finally:
        _disarm(armed)
        _current = None
        if REPORT and time.monotonic() - _last_write[0] >= REPORT_EVERY:
            _write_results(_worker[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Direct calls of app functions from the test function's own code (not its fixtures)."""
    previous = sys.getprofile()
    find_app_objects()
    sys.setprofile(_profile)
    try:
        yield
    finally:
        sys.setprofile(previous)


def pytest_runtest_logreport(report) -> None:
    rec = _results.setdefault(report.nodeid, _new_record(report.nodeid))
    rec["duration"] += float(getattr(report, "duration", 0.0) or 0.0)
    wasxfail = hasattr(report, "wasxfail")
    if report.when == "setup":
        if report.failed:
            _set_outcome(rec, "error", report)
        elif report.skipped:
            _set_outcome(rec, "xfailed" if wasxfail else "skipped", report)
    elif report.when == "call":
        if wasxfail:
            _set_outcome(rec, "xfailed" if report.skipped else "xpassed", report)
        elif report.passed:
            _set_outcome(rec, "passed", report)
        elif report.failed:
            _set_outcome(rec, "failed", report)
        else:
            _set_outcome(rec, "skipped", report)
    elif report.when == "teardown":
        if report.failed and rec["outcome"] in ("passed", "", "xpassed"):
            _set_outcome(rec, "error", report)
    if rec.get("timed_out") and rec["outcome"] in ("failed", "error"):
        rec["message"] = timed_out_message(rec["timed_out"])


def pytest_collection_modifyitems(session, config, items) -> None:
    if not ONLY_FILE:
        return
    with open(ONLY_FILE, encoding="utf-8") as f:
        only = set(json.load(f))
    keep = [i for i in items if i.nodeid in only]
    dropped = [i for i in items if i.nodeid not in only]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_collection_finish(session) -> None:
    if ROUTING:
        find_settings()


def pytest_collectreport(report) -> None:
    if report.failed:
        rec = _results.setdefault(report.nodeid or "<collection>", _new_record(report.nodeid))
        _set_outcome(rec, "error", report)
        rec["when"] = "collect"


def pytest_sessionfinish(session, exitstatus) -> None:
    _write_results(_worker[0], exitstatus=int(exitstatus))


# --------------------------------------------------------------------------- at import: before any conftest


_STATUS["config"] = _apply_config_module()
_install_patch_watch()
_install_flask()
_install_starlette()
_install_httpx_asgi()
_install_django()
