"""The images' Python follows the monolith's: requires-python (pyproject, setup.cfg,
setup.py, Poetry), .python-version and runtime.txt choose the default base image,
the requirement markers' target and the Python generated code is compiled with;
`decompose build` takes the lowest local image meeting it when the default cannot be had."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from decompose.generation import compile_check
from decompose.generation.generate import GenerateError
from decompose.generation.output import generation_for, render_outputs
from decompose.generation.pyversion import (
    PythonVersionError,
    SUPPORTED,
    choose,
    declarations,
    deferred_annotation_use,
    image_python,
    satisfying,
    target,
)

# --------------------------------------------------------------------------- choosing the version


@pytest.mark.parametrize("files, version", [
    ({}, "3.11"),
    ({"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.12"\n'}, "3.12"),
    ({"pyproject.toml": '[project]\nrequires-python = ">=3.8"\n'}, "3.11"),  # older ones are not supported images
    ({"pyproject.toml": '[project]\nrequires-python = ">=3.12.4,<3.14"\n'}, "3.12"),  # the newest 3.12 image meets it
    ({"pyproject.toml": '[project]\nrequires-python = "~=3.13.0"\n'}, "3.13"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.13"\n'}, "3.13"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "~3.12"\n'}, "3.12"),
    ({"setup.cfg": "[options]\npython_requires = >=3.13\n"}, "3.13"),
    ({"setup.py": "from setuptools import setup\nsetup(name='x', python_requires='>=3.12')\n"}, "3.12"),
    ({".python-version": "# pinned\n3.13.1\n"}, "3.13"),
    ({"runtime.txt": "python-3.12.7\n"}, "3.12"),
    # every declaration is a constraint: >=3.11 and .python-version 3.13 -> 3.13
    ({"pyproject.toml": '[project]\nrequires-python = ">=3.11"\n', ".python-version": "3.13\n"}, "3.13"),
])
def test_lowest_supported_python_meeting_every_declaration(files, version):
    t = choose(declarations(files))
    assert t.version == version
    assert t.base_image == f"python:{version}-slim"
    assert t.accepts[0] == version and set(t.accepts) <= set(SUPPORTED)


def test_an_unsatisfiable_requirement_is_one_error_naming_the_file():
    with pytest.raises(PythonVersionError) as e:
        choose(declarations({"pyproject.toml": '[project]\nrequires-python = ">=3.99"\n'}))
    msg = str(e.value)
    assert "pyproject.toml [project] requires-python: >=3.99" in msg and "--base-image" in msg
    assert "\n" not in msg
    with pytest.raises(PythonVersionError, match=r"runtime.txt \(python-3.12.1\).*setup.cfg|setup.cfg.*runtime.txt"):
        choose(declarations({"setup.cfg": "[options]\npython_requires = >=3.13\n", "runtime.txt": "python-3.12.1"}))
    with pytest.raises(PythonVersionError, match="setup.cfg .*'>=three' is not a version specifier"):
        choose(declarations({"setup.cfg": "[options]\npython_requires = >=three\n"}))


def test_an_explicit_base_image_wins_and_names_the_target_when_it_can():
    decls = declarations({"pyproject.toml": '[project]\nrequires-python = ">=3.12"\n'})
    t, image = target(decls, "python:3.13-slim-bookworm")
    assert (t.version, image, t.accepts) == ("3.13", "python:3.13-slim-bookworm", ())
    t, image = target(decls, "registry.local/base:1")  # not named after a Python: the monolith's stays the target
    assert (t.version, image) == ("3.12", "registry.local/base:1")
    assert image_python("docker.io/library/python:3.12") == "3.12"
    assert satisfying(decls, ["3.11", "3.13"]) == ["3.13"]


# --------------------------------------------------------------------------- generate on a small monolith

USERS = '''from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/users")


def lookup(user_id: int) -> dict:
    return {"id": user_id}


@bp.get("/<int:user_id>")
def show(user_id: int):
    return lookup(user_id)
'''

ORDERS = '''import tomli
from flask import Blueprint

from shop.users import lookup
{extra}
bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/<int:order_id>")
def show(order_id: int):
    return {{"order": order_id, "user": lookup(1), "toml": tomli.loads("a = 1")}}
'''

APP = '''from flask import Flask


def create_app():
    app = Flask(__name__)
    from shop import orders, users
    app.register_blueprint(orders.bp)
    app.register_blueprint(users.bp)
    return app
'''

PLAN = """version: 1
project: shop
source: .
services:
  orders:
    modules: [shop.orders]
  users:
    modules: [shop.users]
shared:
  modules: [shop]
"""


def monolith(tmp_path: Path, requires: str | None, *, extra: str = "") -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text(APP)
    (tmp_path / "shop" / "users.py").write_text(USERS)
    (tmp_path / "shop" / "orders.py").write_text(ORDERS.format(extra=extra))
    req = f'requires-python = "{requires}"\n' if requires else ""
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "shop"\nversion = "1.0"\n{req}'
        "dependencies = [\"flask==3.1.3\", \"tomli==2.0.1; python_version < '3.12'\"]\n")
    (tmp_path / "plan.yaml").write_text(PLAN)
    return tmp_path / "plan.yaml"


def test_generate_follows_requires_python_for_image_markers_and_manifest(tmp_path):
    gen, root, facts, sources = generation_for(monolith(tmp_path, ">=3.12"), use_cache=False)
    files = render_outputs(gen, facts, sources, root=root).files
    assert (gen.python, gen.base_image) == ("3.12", "python:3.12-slim")
    assert b"ARG BASE_IMAGE=python:3.12-slim\n" in files["services/orders/Dockerfile"]
    assert b"BASE_IMAGE: \"python:3.12-slim\"" in files["compose.yaml"]
    manifest = json.loads(files["decompose-output.json"])
    assert manifest["python"] == {"version": "3.12", "requires": ">=3.12", "accepts": ["3.12", "3.13", "3.14"]}
    # the marker `python_version < '3.12'` does not hold on the images: tomli is not theirs
    assert b"tomli" not in files["services/orders/requirements.txt"]


def test_without_a_declaration_python_3_11_and_its_markers(tmp_path):
    gen, root, facts, sources = generation_for(monolith(tmp_path, None), use_cache=False)
    files = render_outputs(gen, facts, sources, root=root).files
    assert (gen.python, gen.base_image) == ("3.11", "python:3.11-slim")
    assert b"tomli==2.0.1" in files["services/orders/requirements.txt"]


def test_unsatisfiable_requirement_stops_generate(tmp_path):
    with pytest.raises(PythonVersionError, match=r"requires-python: >=4"):
        generation_for(monolith(tmp_path, ">=4"), use_cache=False)


needs_312 = pytest.mark.skipif(compile_check.find_python("3.12") is None, reason="no python3.12 on this machine")


@needs_312
def test_generated_code_compiles_with_the_images_python(tmp_path):
    """orders.py is rewritten (its import of shop.users becomes a client), so it is compiled:
    a PEP 695 alias is valid on the monolith's 3.12, not on 3.11."""
    plan = monolith(tmp_path, ">=3.12", extra="\ntype OrderId = int\n")
    gen, root, facts, sources = generation_for(plan, use_cache=False)
    out = render_outputs(gen, facts, sources, root=root)
    assert out.notes == []  # python3.12 was found and compiled it
    assert b"type OrderId = int" in out.files["services/orders/app/shop/orders.py"]
    with pytest.raises(GenerateError) as e:  # the same code for an explicit 3.11 image
        gen, root, facts, sources = generation_for(plan, base_image="python:3.11-slim", use_cache=False)
        render_outputs(gen, facts, sources, root=root)
    assert any("services/orders/app/shop/orders.py:" in p and "does not compile (Python 3.11)" in p
               for p in e.value.problems), e.value.problems


def test_without_the_targets_interpreter_this_one_compiles_and_says_so(tmp_path, monkeypatch):
    missing = "3.99"  # no such interpreter anywhere
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    r = compile_check.compile_sources({"a.py": "x = 1\n", "b.py": "def f(:\n"}, missing)
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert r.interpreter is None
    assert r.note and f"compiled with Python {running}, not {missing}" in r.note
    assert r.problems == [f"b.py:1: generated code does not compile (Python {running}): invalid syntax"]


# --------------------------------------------------------------------------- build: the lowest local image


@pytest.mark.docker
def test_build_takes_the_lowest_local_image_meeting_the_requirement(docker_client_fixture, tmp_path):
    from decompose.runtime.docker_build import OutputManifest, default_base_image

    client = docker_client_fixture
    have = {t for img in client.images.list(name="python") for t in img.tags}
    if "python:3.13-slim" not in have or "python:3.12-slim" in have:
        pytest.skip(f"needs python:3.13-slim and no python:3.12-slim (.ci/docker-setup.sh); local: {sorted(have)}")
    m = OutputManifest(root=tmp_path, project="e2epy", version="1", services=(), gateway=None,
                       base_image="python:3.12-slim", python_accepts=("3.12", "3.13", "3.14"), python_requires=">=3.12")
    image, note = default_base_image(m, client)
    assert image == "python:3.13-slim"
    assert "python:3.12-slim is not available locally and cannot be pulled" in note and ">=3.12" in note
    # present: built as generated
    m11 = OutputManifest(root=tmp_path, project="e2epy", version="1", services=(), gateway=None,
                         base_image="python:3.11-slim", python_accepts=("3.11", "3.12"), python_requires="")
    assert default_base_image(m11, client) == (None, None)
    # an explicit image at generate time (accepts empty) is never swapped
    given = OutputManifest(root=tmp_path, project="e2epy", version="1", services=(), gateway=None,
                           base_image="python:3.12-slim", python_accepts=(), python_requires=">=3.12")
    assert default_base_image(given, client) == (None, None)


# --------------------------------------------------------------------------- what the code needs

# as FlaskBB 2.2.0 writes it (flaskbb/auth/services/authentication.py): a TYPE_CHECKING-only
# import named in a method's annotation, no `from __future__ import annotations`
DEFERRED = '''from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from shop.users import User


class Authenticator:
    def __init__(self, session: Session):
        self.session = session

    def check(self, user: "User") -> bool:
        return True
'''


@pytest.mark.parametrize("source, found", [
    (DEFERRED, (9, "Session")),
    # a module-level variable annotation and a return annotation are evaluated too
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import B\nx: B = None\n", (4, "B")),
    ("import typing\nif typing.TYPE_CHECKING:\n    import a\ndef f() -> a.B: ...\n", (4, "a")),
    # deferred by the future import, quoted, only in a function's local annotation, or bound also at run time
    ("from __future__ import annotations\n" + DEFERRED, None),
    (DEFERRED.replace("session: Session", "session: 'Session'"), None),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import B\ndef f():\n    x: B = 1\n", None),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import B\nelse:\n    B = object\n"
     "def f(b: B): ...\n", None),
    # annotations inside the TYPE_CHECKING block itself never run
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import B\n    def f(b: B): ...\n", None),
])
def test_annotations_evaluated_at_definition_that_name_type_checking_only_imports(source, found):
    assert deferred_annotation_use(source) == found


def test_code_needing_deferred_annotations_raises_the_target_to_3_14_and_says_where(tmp_path):
    plan = monolith(tmp_path, ">=3.12")
    (tmp_path / "shop" / "auth.py").write_text(DEFERRED)
    gen, root, facts, sources = generation_for(plan, use_cache=False)
    assert (gen.python, gen.base_image) == ("3.14", "python:3.14-slim")
    manifest = json.loads(render_outputs(gen, facts, sources, root=root).files["decompose-output.json"])
    assert manifest["python"]["requires"] == ">=3.12,>=3.14" and manifest["python"]["accepts"] == ["3.14"]
    # a declaration excluding 3.14 cannot be met: one error naming the file, line and name
    (tmp_path / "old").mkdir()
    plan = monolith(tmp_path / "old", ">=3.11,<3.14")
    (tmp_path / "old" / "shop" / "auth.py").write_text(DEFERRED)
    said = r"shop/auth.py:9 \(an annotation names 'Session'.*PEP 649; .from __future__ import annotations"
    with pytest.raises(PythonVersionError, match=said):
        generation_for(plan, use_cache=False)
