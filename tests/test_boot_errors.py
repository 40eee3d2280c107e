"""A service whose app fails while importing the monolith's modules reports that error once.

lnbits under Docker: ``lnbits.settings`` raised at import (its own distribution's metadata
is not installed in the image), the generated server retried building the app, which
executed ``lnbits.settings`` a second time, and the boot log ended in pydantic's
``duplicate validator`` error instead of the real one.  The fixture reproduces the class
without pydantic: a module registers a name in a global registry that refuses duplicates
(as pydantic v1 does with validators) and then fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.cli import app

REGISTRY = """\
SEEN = set()


def register(name):
    if name in SEEN:
        raise RuntimeError(f"duplicate validator function {name!r}")
    SEEN.add(name)
"""

SETTINGS = """\
import os

from {pkg} import registry

registry.register("{pkg}.settings.Settings.validate")
REQUIRED = os.environ["DECOMPOSE_TEST_BOOT_REQUIRED"]
"""

VIEWS = {
    "fastapi": """\
from fastapi import APIRouter

from {pkg} import settings

router = APIRouter()


@router.get("/")
def index():
    return {{"required": settings.REQUIRED}}
""",
    "flask": """\
from flask import Blueprint

from {pkg} import settings

bp = Blueprint("views", __name__)


@bp.route("/")
def index():
    return {{"required": settings.REQUIRED}}
""",
}

APPS = {
    "fastapi": """\
from fastapi import FastAPI


def create_app():
    from {pkg} import views

    app = FastAPI()
    app.include_router(views.router)
    return app
""",
    "flask": """\
from flask import Flask


def create_app():
    from {pkg} import views

    app = Flask(__name__)
    app.register_blueprint(views.bp)
    return app
""",
}


def one_service(root: Path, tmp_path: Path) -> tuple[Path, dict]:
    """``root`` planned as one service and generated: the output folder and the service's manifest entry."""
    plan, out = tmp_path / "p.yaml", tmp_path / "out"
    runner = CliRunner()
    r = runner.invoke(app, ["plan", str(root), "-n", "1", "--no-history", "--no-cache", "-o", str(plan), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["generate", "--plan", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    (svc,) = json.loads((out / "decompose-output.json").read_text())["services"]
    return out, svc


@pytest.mark.parametrize("framework", sorted(APPS))
def test_an_import_error_of_the_app_is_reported_once_not_hidden_by_a_retry(tmp_path, framework):
    pkg = f"bootapp_{framework}"
    root = tmp_path / "mono"
    files = {
        f"{pkg}/__init__.py": "",
        f"{pkg}/registry.py": REGISTRY,
        f"{pkg}/settings.py": SETTINGS.format(pkg=pkg),
        f"{pkg}/views.py": VIEWS[framework].format(pkg=pkg),
        f"{pkg}/app.py": APPS[framework].format(pkg=pkg),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    out, svc = one_service(root, tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DECOMPOSE_") and k not in ("PYTHONPATH", "FLASK_APP")}
    env["PYTHONPATH"] = str(out / svc["source"])
    boot = subprocess.run([sys.executable, "-c", "import decompose_rt.server"], cwd=out / svc["source"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert boot.returncode != 0
    assert "KeyError: 'DECOMPOSE_TEST_BOOT_REQUIRED'" in boot.stderr, boot.stderr[-3000:]
    assert "duplicate validator" not in boot.stderr and "retrying" not in boot.stderr, boot.stderr[-3000:]
    # and with what it needs, the same service boots: the retry is not what made it work
    env["DECOMPOSE_TEST_BOOT_REQUIRED"] = "yes"
    ok = subprocess.run([sys.executable, "-c", "import decompose_rt.server as s; print(type(s.app).__name__)"],
                        cwd=out / svc["source"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-3000:]


def test_the_monolith_finds_its_own_distribution_in_a_service(tmp_path):
    """lnbits.settings: ``importlib.metadata.version("lnbits")`` at import.  A service carries
    copies of the modules, not an installed distribution: PackageNotFoundError in the image."""
    pkg = "bootmeta_app"
    root = tmp_path / "mono"
    (root / pkg).mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "bootmeta-app"\nversion = "2.3.4"\n'
                                         'dependencies = ["fastapi"]\n')
    (root / pkg / "__init__.py").write_text("")
    (root / pkg / "settings.py").write_text("import importlib.metadata\n\nVERSION = importlib.metadata.version('bootmeta-app')\n")
    (root / pkg / "views.py").write_text(VIEWS["fastapi"].replace("settings.REQUIRED", "settings.VERSION").format(pkg=pkg))
    (root / pkg / "app.py").write_text(APPS["fastapi"].format(pkg=pkg))
    out, svc = one_service(root, tmp_path)
    src = out / svc["source"]
    assert (src / "bootmeta_app-2.3.4.dist-info" / "METADATA").read_text().splitlines()[1:3] == \
        ["Name: bootmeta-app", "Version: 2.3.4"]
    # importlib.metadata.files() lists what the service holds (privacyIDEA's create_app looks for
    # migrations/env.py there; without a RECORD it is None: TypeError in the app factory)
    files = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; "
                            "print(*sorted(str(f) for f in m.files('bootmeta-app')))"],
                           cwd=src, env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True)
    assert files.returncode == 0, files.stderr
    listed = files.stdout.split()
    assert {"bootmeta_app/__init__.py", "bootmeta_app/settings.py", "bootmeta_app/views.py",
            "bootmeta_app-2.3.4.dist-info/RECORD"} <= set(listed)
    assert not any(f.startswith("decompose_rt") for f in listed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(src), DECOMPOSE_RPC_SECRET="s" * 32)
    probe = ("from fastapi.testclient import TestClient\nfrom decompose_rt.server import app\n"
             "print(TestClient(app).get('/').json())\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=src, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "{'required': '2.3.4'}"


@pytest.mark.parametrize("files,expected", [
    ({"pyproject.toml": '[project]\nname = "a-b"\nversion = "1.0"\n'}, ("a-b", "1.0")),
    # a dynamic version: the sdist's PKG-INFO has it
    ({"pyproject.toml": '[project]\nname = "a-b"\ndynamic = ["version"]\n',
      "PKG-INFO": "Metadata-Version: 2.1\nName: a-b\nVersion: 3.1.dev2\n"}, ("a-b", "3.1.dev2")),
    ({"setup.cfg": "[metadata]\nname = flaskbbish\nversion = 2.2.0\n"}, ("flaskbbish", "2.2.0")),
    ({"setup.cfg": "[metadata]\nname = x\nversion = attr: x.__version__\n"}, None),
    ({}, None),
])
def test_own_distribution(tmp_path, files, expected):
    from decompose.generation.distinfo import own_distribution

    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    assert own_distribution(tmp_path) == expected


SILENCING_APP = """\
import logging.config

from flask import Flask


def create_app():
    from quietapp.views import bp

    app = Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    # privacyIDEA's create_app: its own logging configuration, disable_existing_loggers left true
    logging.config.dictConfig({"version": 1, "handlers": {}, "loggers": {"quietapp": {"level": "INFO"}}})
    app.register_blueprint(bp)
    return app
"""

SILENCING_VIEWS = """\
from flask import Blueprint

bp = Blueprint("views", __name__)


@bp.route("/boom")
def boom():
    return {"x": 1 / 0}


@bp.route("/")
def index():
    return {"ok": True}
"""


def test_a_request_that_raises_is_in_the_service_log_whatever_the_app_configures_for_logging(tmp_path):
    """The app's ``dictConfig`` had disabled gunicorn's error logger: a request raising through
    the app answered gunicorn's bare 500 page and left no trace in any log."""
    import socket
    import time
    import urllib.error
    import urllib.request

    root = tmp_path / "mono"
    (root / "quietapp").mkdir(parents=True)
    (root / "quietapp" / "__init__.py").write_text("")
    (root / "quietapp" / "app.py").write_text(SILENCING_APP)
    (root / "quietapp" / "views.py").write_text(SILENCING_VIEWS)
    out, svc = one_service(root, tmp_path)
    src = out / svc["source"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k not in ("PYTHONPATH", "FLASK_APP")}
    env.update(PYTHONPATH=str(src), HOST="127.0.0.1", PORT=str(port), DECOMPOSE_RPC_SECRET="s" * 32,
               DECOMPOSE_TMP_DIR=str(tmp_path))
    log = tmp_path / "service.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", str(src / "gunicorn.conf.py"),
                                 "decompose_rt.server:app"], cwd=src, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/boom", timeout=5)
        assert err.value.code == 500
        deadline = time.monotonic() + 10
        while "ZeroDivisionError" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "ZeroDivisionError: division by zero" in text and "Traceback" in text, text[-3000:]
