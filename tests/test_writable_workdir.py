"""A monolith writing a file relative to its working directory runs on the images' read-only root
(issue 10).

privacyIDEA 3.14's default configuration logs to ``PI_LOGFILE = "privacyidea.log"``, relative to
the working directory: from a checkout (the monolith, `up --local`) that is writable, but every
one of its 21 services exited at start in Docker ("Unable to configure handler 'file'"), whose
``/app`` is read-only.  The generated runtime (``decompose_rt/__init__.py``, imported before the
monolith's code) works in a writable shadow of a read-only working directory: links to each
entry of ``/app`` in a folder on the ``/tmp`` tmpfs, so relative reads of shipped files still work
and new files land there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.generate_support import child_env, generate_fixture, unit_source

DESK = {
    "desk/__init__.py": "",
    "desk/settings.txt": "level = info\n",
    "desk/app.py": '''
        import logging

        from flask import Flask

        from desk.tickets.views import bp


        def create_app():
            logging.getLogger("desk").addHandler(logging.FileHandler("desk.log"))  # relative to the cwd
            app = Flask(__name__)
            app.register_blueprint(bp, url_prefix="/tickets")
            return app
    ''',
    "desk/tickets/__init__.py": "",
    "desk/tickets/views.py": '''
        from flask import Blueprint

        bp = Blueprint("tickets", __name__)


        @bp.route("/")
        def index():
            return {"tickets": []}
    ''',
}

CHECK = ("import logging, os, decompose_rt; from desk.app import create_app; create_app(); "
         "logging.getLogger('desk').warning('started'); "
         "print(os.getcwd(), open('desk.log').read().split()[-1], open('desk/settings.txt').read().strip())")


@pytest.fixture(scope="module")
def service_source(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workdir")
    out, manifest = generate_fixture(tmp, DESK, {"tickets": ["desk.tickets", "desk.tickets.views"]}, ["desk", "desk.app"])
    src = unit_source(out, manifest, "tickets")
    (src / "desk.log").write_text("from a local run\n")  # `up --local` runs in this folder, then `build` copies it
    return src


def test_a_writable_working_directory_is_left_as_it_is(service_source, tmp_path):
    src = tmp_path / "app"
    shutil.copytree(service_source, src)  # the Docker test's source stays without desk.log
    r = subprocess.run([sys.executable, "-c", CHECK], cwd=src, env=child_env(src),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == [str(src), "started", "level", "=", "info"]


@pytest.mark.docker
def test_on_a_read_only_root_the_service_writes_relative_files_into_a_shadow_of_its_folder(
        service_source, docker_client_fixture, base_image):
    # as the images run: /app read-only, /tmp a tmpfs, a non-root user; flask from the host's
    # site-packages (mounted read-only too) so that no image needs building
    import flask
    from pathlib import Path

    site = str(Path(flask.__file__).resolve().parent.parent)
    out = docker_client_fixture.containers.run(
        base_image, ["python", "-c", CHECK], remove=True, read_only=True, tmpfs={"/tmp": "rw"}, user="10001:10001",
        working_dir="/app", environment={"PYTHONPATH": "/site"},
        volumes={str(service_source): {"bind": "/app", "mode": "ro"}, site: {"bind": "/site", "mode": "ro"}})
    assert out.decode().split() == ["/tmp/decompose-workdir", "started", "level", "=", "info"]
