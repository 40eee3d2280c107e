"""generate shares work across services: one parse per distinct source, one read per data file.

A module copied into several services is rewritten for each of them (each
imports a different set of remote modules), the app module is pruned for each,
and a package's data files go into each: these tests count the LibCST parses
and file reads and check every service still gets exactly what rewriting or
pruning its own copy from scratch gives.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import libcst
import pytest
import yaml

from decompose.frameworks import prune
from decompose.fsio import UnusablePath, atomic_write_all
from decompose.generation import output as output_mod
from decompose.generation.codemods import rewrite_remote_imports
from decompose.generation.output import generation_for, render_outputs, write_outputs

FILES = {
    "pkg/__init__.py": "",
    "pkg/app.py": (
        "from flask import Flask\n"
        "from pkg.a.views import bp as a_bp\n"
        "from pkg.b.views import bp as b_bp\n"
        "from pkg.c.views import bp as c_bp\n\n\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    app.register_blueprint(a_bp)\n"
        "    app.register_blueprint(b_bp)\n"
        "    app.register_blueprint(c_bp)\n"
        "    return app\n"
    ),
    # shared: imports one module of service a and one of service c, so services a, b and c
    # each need a different rewrite of it (a: c's module remote; b: both; c: a's module remote)
    "pkg/common.py": (
        "from pkg.a import core\n"
        "from pkg.c import service\n\n\n"
        "def helper(x: int) -> int:\n"
        "    return core.double(x) + service.lookup(x)\n"
    ),
    "pkg/a/__init__.py": "",
    "pkg/a/core.py": "def double(x: int) -> int:\n    return 2 * x\n",
    "pkg/a/views.py": (
        "from flask import Blueprint\n"
        "from pkg.common import helper\n\n"
        "bp = Blueprint('a', __name__, url_prefix='/a')\n\n\n"
        "@bp.route('/<int:x>')\n"
        "def show(x):\n"
        "    return {'v': helper(x)}\n"
    ),
    "pkg/b/__init__.py": "",
    "pkg/b/views.py": (
        "from flask import Blueprint\n"
        "from pkg.common import helper\n\n"
        "bp = Blueprint('b', __name__, url_prefix='/b')\n\n\n"
        "@bp.route('/<int:x>')\n"
        "def show(x):\n"
        "    return {'v': helper(x + 1)}\n"
    ),
    "pkg/c/__init__.py": "",
    "pkg/c/service.py": "def lookup(x: int) -> int:\n    return x + 100\n",
    "pkg/c/views.py": (
        "from flask import Blueprint\n"
        "from pkg.c.service import lookup\n\n"
        "bp = Blueprint('c', __name__, url_prefix='/c')\n\n\n"
        "@bp.route('/<int:x>')\n"
        "def show(x):\n"
        "    return {'v': lookup(x)}\n"
    ),
    # data files of the top package, copied into every service holding it
    "pkg/assets/app.js": "console.log('pkg');\n",
    "pkg/assets/img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
}

PLAN = {
    "version": 1,
    "project": "sharing",
    "source": "src",
    "services": {
        "a": {"modules": ["pkg.a", "pkg.a.core", "pkg.a.views"]},
        "b": {"modules": ["pkg.b", "pkg.b.views"]},
        "c": {"modules": ["pkg.c", "pkg.c.service", "pkg.c.views"]},
    },
    "shared": {"modules": ["pkg", "pkg.app", "pkg.common"]},
}


@pytest.fixture
def monolith(tmp_path: Path) -> Path:
    for rel, text in FILES.items():
        p = tmp_path / "src" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "src" / "pyproject.toml").write_text(
        '[project]\nname = "sharing"\nversion = "1.0"\ndependencies = ["flask==3.1.3"]\n')
    plan = tmp_path / "decompose.yaml"
    plan.write_text(yaml.safe_dump(PLAN))
    return plan


@pytest.fixture
def parses(monkeypatch) -> Counter:
    """Every LibCST parse, counted by source text (the real parser still runs)."""
    counted: Counter = Counter()
    real = libcst.parse_module

    def counting(source, *args, **kwargs):
        counted[source] += 1
        return real(source, *args, **kwargs)

    monkeypatch.setattr(libcst, "parse_module", counting)
    prune._parsed.cache_clear()
    return counted


def test_a_module_rewritten_differently_in_three_services_is_parsed_once(monolith, parses):
    gen, root, facts, sources = generation_for(monolith, use_cache=False)
    maps = {n: s.rewrites.get("pkg.common") for n, s in gen.services.items()}
    assert maps == {  # the fixture does what it says: three different rewrites of one module
        "a": {"pkg.c.service": "decompose_rt.clients.pkg_c_service"},
        "b": {"pkg.a.core": "decompose_rt.clients.pkg_a_core", "pkg.c.service": "decompose_rt.clients.pkg_c_service"},
        "c": {"pkg.a.core": "decompose_rt.clients.pkg_a_core"},
    }
    parses.clear()
    files = render_outputs(gen, facts, sources, root=root).files
    assert parses[sources["pkg.common"]] == 1
    assert parses[sources["pkg.app"]] == 1  # pruned for three services from one parse
    assert max(parses.values()) == 1
    # ... and each service's copy is what rewriting that copy on its own gives
    for name, remote in maps.items():
        alone, _ = rewrite_remote_imports(sources["pkg.common"], "pkg.common", False, remote)
        assert files[f"services/{name}/app/pkg/common.py"] == alone.encode()
        assert ("import pkg_c_service as service" in alone) == (name != "c")


def test_each_service_prunes_the_app_module_for_itself(monolith, parses):
    gen, root, facts, sources = generation_for(monolith, use_cache=False)
    files = render_outputs(gen, facts, sources, root=root).files
    for name in gen.services:
        app = files[f"services/{name}/app/pkg/app.py"].decode()
        for other in {"a", "b", "c"} - {name}:
            assert f"{other}_bp" not in app
        assert f"app.register_blueprint({name}_bp)" in app
        drop = {m for m in sources if m not in gen.services[name].copied}
        prune._parsed.cache_clear()  # from scratch: a fresh parse for this service alone
        assert app == prune.prune_imports(sources["pkg.app"], "pkg.app", False, drop)


def test_data_files_are_read_once_and_shared(monolith, monkeypatch):
    gen, root, facts, sources = generation_for(monolith, use_cache=False)
    reads: Counter = Counter()
    real = Path.read_bytes

    def counting(self):
        reads[self.name] += 1
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    files = render_outputs(gen, facts, sources, root=root).files
    copies = [f"services/{n}/app/pkg/assets/img/logo.svg" for n in sorted(gen.services)]
    assert all(files[c] == FILES["pkg/assets/img/logo.svg"].encode() for c in copies)
    assert len({id(files[c]) for c in copies}) == 1  # one bytes object for the three services
    assert reads["logo.svg"] == 1 and reads["app.js"] == 1


def test_output_equals_a_fresh_generation_without_sharing(monolith, tmp_path, monkeypatch):
    """The shared results are byte-identical to rendering each service with nothing shared."""
    gen, root, facts, sources = generation_for(monolith, use_cache=False)
    shared = render_outputs(gen, facts, sources, root=root).files

    class Fresh(output_mod.SharedCopies):  # no memo: every service's copy made from scratch
        def module(self, m, remote):
            self._rewritten.clear()
            self._encoded.clear()
            prune._parsed.cache_clear()
            return super().module(m, remote)

        def data_files(self, m):
            self._data.clear()
            return super().data_files(m)

    monkeypatch.setattr(output_mod, "SharedCopies", Fresh)
    fresh = render_outputs(gen, facts, sources, root=root).files
    assert shared == fresh
    write_outputs(tmp_path / "out", shared)
    for rel, data in shared.items():
        p = tmp_path / "out" / rel
        assert p.read_bytes() == data and (p.stat().st_mode & 0o777) == 0o644


def test_atomic_write_all_writes_every_file_or_none(tmp_path):
    keep = tmp_path / "out" / "keep.txt"
    keep.parent.mkdir()
    keep.write_bytes(b"old\n")
    (tmp_path / "out" / "blocker").write_text("a file where a folder must go\n")
    with pytest.raises(UnusablePath):
        atomic_write_all([(keep, b"new\n"), (tmp_path / "out" / "blocker" / "x.txt", b"x\n")])
    assert keep.read_bytes() == b"old\n"  # nothing renamed before every file was written
    assert sorted(os.listdir(tmp_path / "out")) == ["blocker", "keep.txt"]  # no temporary file left
    atomic_write_all([(keep, b"new\n"), (tmp_path / "out" / "a" / "b" / "c.txt", b"c\n")])
    assert keep.read_bytes() == b"new\n" and (tmp_path / "out" / "a" / "b" / "c.txt").read_bytes() == b"c\n"
    assert {p.name for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")} == set()
    assert (keep.stat().st_mode & 0o777) == 0o644


def test_rewrites_in_worker_processes_equal_the_rewrites_in_one():
    """Many modules to rewrite go to worker processes; the results, in job order, are the
    ones one process makes (a source that cannot be parsed gives its error either way)."""
    from decompose.generation.codemods import PARALLEL_REWRITES, CodemodError, rewrite_remote_imports_many

    jobs = []
    for i in range(PARALLEL_REWRITES + 6):
        src = (f"import pkg.m{i}\nfrom pkg.a import core\nfrom pkg import c\n\n\n"
               f"def f{i}(x):\n    return core.double(x) + pkg.m{i}.g(x) + c.h(x)\n")
        if i == 7:
            src = "def broken(:\n"
        jobs.append((src, f"pkg.u{i}", False, [{"pkg.a.core": "decompose_rt.clients.pkg_a_core"},
                                               {f"pkg.m{i}": f"decompose_rt.clients.pkg_m{i}", "pkg.c": "decompose_rt.clients.pkg_c"}]))
    one = rewrite_remote_imports_many(jobs, workers=1)
    many = rewrite_remote_imports_many(jobs, workers=2)
    assert [[str(r) if isinstance(r, CodemodError) else r for r in rs] for rs in many] == \
        [[str(r) if isinstance(r, CodemodError) else r for r in rs] for rs in one]
    assert isinstance(many[7][0], CodemodError) and "pkg.u7" in str(many[7][0])
    assert "import decompose_rt.clients.pkg_m3 as _decompose_pkg_m3" in many[3][1][0]
    assert "_decompose_pkg_m3.g(x)" in many[3][1][0]
