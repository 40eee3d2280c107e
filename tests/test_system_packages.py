"""System programs a service's code needs are in its image (issue 10).

privacyIDEA's token import uses python-gnupg, which runs the ``gpg`` binary.  The slim Python
images have none, so in the split system ``GET /system/gpgkeys`` answered 502 (``OSError: Unable
to run gpg``) where the monolith, on a host with gnupg installed, answered 200.  Generate now reads
the code copied into each service for the programs it runs and the wrappers it imports, and the
service's Dockerfile installs their Debian packages; the plan's ``system_packages`` adds more.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest

from decompose.generation.system_packages import needs_of, service_packages
from decompose.planning.plan import Plan, PlanError
from tests.generate_support import generate_fixture

RUNS = textwrap.dedent('''
    import os
    import shutil
    import subprocess
    from subprocess import check_output as co

    import gnupg


    def keys():
        subprocess.run(["gpg", "--list-keys"], check=True)
        co(("/usr/bin/git", "rev-parse", "HEAD"))
        os.system("pg_dump shop > /tmp/shop.sql")
        if shutil.which("tesseract"):
            pass
        subprocess.Popen(cmd)  # a variable: not guessed at
        subprocess.run(["python", "-V"])  # in every image
        subprocess.run(["my-own-tool"])  # not known here: the plan adds its package
''')


def test_programs_run_and_wrappers_imported_name_their_debian_packages():
    needs = needs_of("shop.keys", RUNS)
    assert [(n.line, n.package, n.why) for n in needs] == [
        (7, "gnupg", "imports gnupg (needs gpg)"),
        (11, "gnupg", "runs gpg"),
        (12, "git", "runs git"),
        (13, "postgresql-client", "runs pg_dump"),
        (14, "tesseract-ocr", "runs tesseract"),
    ]
    # the monolith's own top-level package named like a wrapper is no wrapper; test code never counts
    assert needs_of("magic.views", "import magic\n", frozenset({"magic"})) == []
    sources = {"shop.keys": RUNS, "shop.tests.test_keys": 'import subprocess\nsubprocess.run(["curl", "x"])\n'}
    assert {n.package for n in service_packages(list(sources), sources, lambda m: ".tests" in m)} == {
        "gnupg", "git", "postgresql-client", "tesseract-ocr"}
    assert needs_of("shop.broken", "def (:\n") == []


def test_the_plan_adds_packages_and_refuses_names_apt_would_not_take():
    body = {"project": "shop", "services": {"keys": {"modules": ["shop.keys"], "system_packages": ["libfoo1"]}}}
    plan = Plan.from_dict(body)
    assert plan.services["keys"].system_packages == ["libfoo1"]
    assert plan.to_dict()["services"]["keys"]["system_packages"] == ["libfoo1"]
    with pytest.raises(PlanError, match=r"'system_packages' must be a list of Debian package names"):
        Plan.from_dict({**body, "services": {"keys": {"modules": ["shop.keys"], "system_packages": ["x; rm -rf /"]}}})


DESK = {
    "pyproject.toml": '''
        [project]
        name = "desk"
        version = "1.0"
        dependencies = ["fastapi"]
    ''',
    "desk/__init__.py": "",
    "desk/main.py": '''
        from fastapi import FastAPI

        from desk.keys import router as keys_router
        from desk.notes import router as notes_router

        app = FastAPI()
        app.include_router(keys_router)
        app.include_router(notes_router)
    ''',
    "desk/keys.py": '''
        import subprocess

        from fastapi import APIRouter

        router = APIRouter(prefix="/keys")


        @router.get("")
        def keys():
            out = subprocess.run(["gpg", "--version"], capture_output=True, text=True, check=True).stdout
            return {"gpg": out.splitlines()[0]}
    ''',
    "desk/notes.py": '''
        from fastapi import APIRouter

        router = APIRouter(prefix="/notes")


        @router.get("")
        def notes():
            return []
    ''',
}
SERVICES = {"keys": ["desk.keys"], "notes": ["desk.notes"]}
SHARED = ["desk", "desk.main"]


def test_the_dockerfile_installs_them_and_passes_hadolint(tmp_path: Path):
    from tests.generate_support import tool

    out, manifest = generate_fixture(tmp_path, DESK, SERVICES, SHARED)
    units = {u["name"]: u for u in manifest["services"]}
    assert units["keys"]["system_packages"] == ["gnupg"] and units["notes"]["system_packages"] == []
    keys = (out / units["keys"]["context"] / "Dockerfile").read_text()
    assert "apt-get install -y --no-install-recommends gnupg" in keys
    assert "apt-get" not in (out / units["notes"]["context"] / "Dockerfile").read_text()
    r = subprocess.run([tool("hadolint"), "--failure-threshold", "style", "--no-color",
                        str(out / units["keys"]["context"] / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout + r.stderr


@pytest.mark.docker
def test_the_service_runs_the_program_in_its_container(tmp_path: Path, docker_client_fixture, base_image):
    from decompose.runtime.docker_build import build_all, load_manifest
    from decompose.runtime.runner import down_docker, forget_rpc_secret, free_port, up_docker

    out, _ = generate_fixture(tmp_path, DESK, SERVICES, SHARED, project="gpgdesk")
    client = docker_client_fixture
    m = load_manifest(out)
    down_docker(m.project, client=client)
    try:
        _, failed = build_all(m, client=client, base_image=base_image)
        assert not failed, [str(f) for f in failed]
        running = up_docker(m, port=free_port(), timeout=180, client=client)
        r = httpx.get(running.url + "/keys", timeout=30)
        assert r.status_code == 200, r.text
        assert json.loads(r.text)["gpg"].startswith("gpg (GnuPG) "), r.text
    finally:
        down_docker(m.project, client=client)
        forget_rpc_secret(out, "docker")
        for u in m.units:
            try:
                client.images.remove(u.image, force=True)
            except Exception:  # noqa: BLE001 - an image the build never made
                pass
