"""decompose up/down: pure helpers and the --local process runner (no Docker needed)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request

import pytest
from conftest import write_fake_output

from decompose.runtime.docker_build import load_manifest, parse_manifest
from decompose.runtime.runner import (
    RunError,
    UpFailed,
    down_local,
    dockerfile_cmd,
    free_port,
    local_argv,
    local_volume_env,
    missing_requirements,
    probe_script,
    public_unit,
    run_dir,
    tail_lines,
    unit_env,
    unit_pythons,
    up_local,
)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return "Z" not in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


# --------------------------------------------------------------------------- pure helpers


def test_unit_env_adds_every_other_units_url_and_local_mode_overrides(tmp_path):
    m = parse_manifest(
        tmp_path,
        {
            "project": "shop",
            "services": [
                {"name": "orders", "context": "o", "env": {"DECOMPOSE_STOCK_URL": "http://stock:8000", "X": "1"}},
                {"name": "stock", "context": "s"},
            ],
            "gateway": {"name": "gateway", "context": "g"},
        },
    )
    urls = {"orders": "http://127.0.0.1:1", "stock": "http://127.0.0.1:2", "gateway": "http://127.0.0.1:3"}
    orders = m.unit("orders")
    kept = unit_env(m, orders, urls, override_urls=False)
    assert kept["DECOMPOSE_STOCK_URL"] == "http://stock:8000"  # the manifest wins in Docker mode
    assert kept["DECOMPOSE_GATEWAY_URL"] == "http://127.0.0.1:3"
    assert "DECOMPOSE_ORDERS_URL" not in kept and kept["X"] == "1"
    local = unit_env(m, orders, urls, override_urls=True)
    assert local["DECOMPOSE_STOCK_URL"] == "http://127.0.0.1:2"


def test_public_unit_is_the_gateway_else_the_single_route_owner(tmp_path):
    def manifest(services, gateway=None):
        data = {"project": "p", "services": services}
        if gateway:
            data["gateway"] = gateway
        return parse_manifest(tmp_path, data)

    assert public_unit(manifest([{"name": "a", "context": "a"}], {"name": "gw", "context": "g"})).name == "gw"
    assert public_unit(manifest([{"name": "a", "context": "a"}, {"name": "b", "context": "b", "routes": ["/b"]}])).name == "b"
    assert public_unit(manifest([{"name": "a", "context": "a"}])).name == "a"
    with pytest.raises(RunError, match="2 services own public routes"):
        public_unit(manifest([{"name": "a", "context": "a", "routes": ["/a"]}, {"name": "b", "context": "b", "routes": ["/b"]}]))


def test_local_argv_uses_this_interpreter_and_the_chosen_port(tmp_path):
    m = parse_manifest(
        tmp_path,
        {"project": "p", "services": [
            {"name": "a", "context": "a", "command": ["python", "-m", "decompose_rt"]},
            {"name": "b", "context": "b", "command": ["python3", "-m", "gunicorn", "--port", "8000", "--bind=0.0.0.0:$PORT"]},
            {"name": "c", "context": "c"},
        ]},
    )
    assert local_argv(m.unit("a"), 5001) == [sys.executable, "-m", "decompose_rt"]
    assert local_argv(m.unit("b"), 5002) == [sys.executable, "-m", "gunicorn", "--port", "5002", "--bind=0.0.0.0:5002"]
    (tmp_path / "c").mkdir()
    (tmp_path / "c/Dockerfile").write_text('FROM x\nCMD ["old"]\nCMD ["python", "-m", "svc", \\\n  "--x"]\n')
    assert local_argv(m.unit("c"), 1) == [sys.executable, "-m", "svc", "--x"]
    (tmp_path / "c/Dockerfile").write_text("FROM x\n")
    with pytest.raises(RunError, match="no command to run it locally"):
        local_argv(m.unit("c"), 1)


def test_dockerfile_cmd_shell_form_and_missing_file(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\nCMD python -m app --port 8000\n")
    assert dockerfile_cmd(tmp_path / "Dockerfile") == ["python", "-m", "app", "--port", "8000"]
    assert dockerfile_cmd(tmp_path / "missing") == []


def test_probe_script_exits_zero_only_on_2xx():
    import subprocess
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 503)
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        ok = subprocess.run([sys.executable, "-c", probe_script(port, "/readyz")], capture_output=True)
        bad = subprocess.run([sys.executable, "-c", probe_script(port, "/other")], capture_output=True)
        assert ok.returncode == 0 and bad.returncode != 0
    finally:
        srv.shutdown()


def test_tail_lines_drops_blank_lines_and_keeps_the_end():
    assert tail_lines("a\n\n b \nc\n", 2) == [" b", "c"]


# --------------------------------------------------------------------------- --local runs


def test_up_local_runs_every_unit_reachable_through_the_gateway_and_down_stops_them(tmp_path):
    root = write_fake_output(tmp_path / "out")
    m = load_manifest(root)
    port = free_port()
    running = up_local(m, port=port, timeout=30)
    try:
        assert running.url == f"http://127.0.0.1:{port}"
        assert _get(running.url + "/hello") == {"greeting": "hello world"}  # gateway -> greeter -> namer
        reg = json.loads((run_dir(root) / "local.json").read_text())
        assert [p["name"] for p in reg["processes"]] == ["namer", "greeter", "gateway"]
        pids = [p["pid"] for p in reg["processes"]]
        assert all(_pid_alive(p) for p in pids)
        assert (run_dir(root) / "logs/namer.log").read_text().startswith("namer listening on")
        # A second `up` replaces the first run instead of failing on busy ports.
        again = up_local(m, port=port, timeout=30)
        assert _get(again.url + "/hello") == {"greeting": "hello world"}
        assert not any(_pid_alive(p) for p in pids)
    finally:
        stopped = down_local(root)
    assert stopped == ["namer", "greeter", "gateway"]
    assert not (run_dir(root) / "local.json").exists()
    assert down_local(root) == []  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_up_local_names_the_crashing_service_with_its_log_and_down_cleans_up(tmp_path):
    root = write_fake_output(tmp_path / "out", crash="DATABASE_URL is not set")
    m = load_manifest(root)
    with pytest.raises(UpFailed) as exc:
        up_local(m, port=free_port(), timeout=30)
    err = exc.value
    assert [f.name for f in err.failures] == ["greeter"]
    assert err.failures[0].reason == "exited with code 3"
    assert err.failures[0].logs == ["fatal: DATABASE_URL is not set"]
    assert "greeter (exited with code 3)" in str(err) and "\n" not in str(err)
    reg = json.loads((run_dir(root) / "local.json").read_text())
    survivors = [p["pid"] for p in reg["processes"] if p["name"] != "greeter"]
    assert survivors and all(_pid_alive(p) for p in survivors)
    assert sorted(down_local(root)) == ["gateway", "namer"]
    deadline = time.monotonic() + 5
    while any(_pid_alive(p) for p in survivors) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_pid_alive(p) for p in survivors)


def test_up_local_reports_a_unit_that_never_gets_ready(tmp_path):
    root = write_fake_output(tmp_path / "out")
    data = json.loads((root / "decompose-output.json").read_text())
    data["services"][0]["ready"] = "/never"  # namer answers 404 there
    (root / "decompose-output.json").write_text(json.dumps(data))
    m = load_manifest(root)
    try:
        with pytest.raises(UpFailed) as exc:
            up_local(m, port=free_port(), timeout=3)
        (f,) = exc.value.failures
        assert f.name == "namer" and f.reason == "not ready after 3s: HTTP 404"
        assert any("GET /never" in line for line in f.logs)
    finally:
        down_local(root)


def test_up_local_refuses_a_busy_public_port(tmp_path):
    root = write_fake_output(tmp_path / "out")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(RunError, match="already in use"):
            up_local(load_manifest(root), port=s.getsockname()[1])
    assert down_local(root) == []


def test_down_local_ignores_recycled_pids(tmp_path):
    """A registry entry whose pid now belongs to another process must not be killed."""
    root = write_fake_output(tmp_path / "out")
    entry = {"name": "namer", "pid": os.getpid(), "port": 1, "log": "x", "start_ticks": 1, "argv": ["x"]}
    (run_dir(root)).mkdir(parents=True)
    (run_dir(root) / "local.json").write_text(json.dumps({"project": "fakeshop", "processes": [entry]}))
    assert down_local(root) == []  # we are still alive to assert this
    (run_dir(root) / "local.json").write_text("{not json")
    with pytest.raises(RunError, match="unreadable process registry"):
        down_local(root)


def test_local_volume_env_rewrites_whole_mount_paths_only(tmp_path):
    env = {
        "DB": "sqlite:////data/catalog.db",
        "SHARED": "sqlite:////shared-data/shop.db",
        "OTHER": "/database/x:/var/data/y",
        "EXACT": "/data",
    }
    out = local_volume_env(env, {"/data": tmp_path / "c", "/shared-data": tmp_path / "s"})
    assert out == {
        "DB": f"sqlite:///{tmp_path}/c/catalog.db",
        "SHARED": f"sqlite:///{tmp_path}/s/shop.db",
        "OTHER": "/database/x:/var/data/y",
        "EXACT": str(tmp_path / "c"),
    }


def test_manifest_volumes_both_spellings(tmp_path):
    m = parse_manifest(tmp_path, {"project": "p", "services": [
        {"name": "a", "context": "a", "volumes": ["a-data:/data", {"name": "shared", "path": "/shared-data/"}]},
    ]})
    assert m.unit("a").volumes == (("a-data", "/data"), ("shared", "/shared-data"))
    with pytest.raises(Exception, match="must be absolute"):
        parse_manifest(tmp_path, {"project": "p", "services": [{"name": "a", "context": "a", "volumes": ["v:rel"]}]})


def test_up_local_gives_services_sharing_a_volume_one_folder_and_down_removes_it(tmp_path):
    root = write_fake_output(tmp_path / "out", shared_volume=True)
    running = up_local(load_manifest(root), port=free_port(), timeout=30)
    try:
        assert _get(running.url + "/state") == {"lines": ["greeter", "namer"]}
        assert (run_dir(root) / "volumes/state/state.txt").is_file()
    finally:
        down_local(root)
    assert not (run_dir(root) / "volumes").exists()


def test_up_local_python_runs_the_services_and_the_gateway_where_its_requirements_are(tmp_path):
    """``--python`` (the monolith's venv) runs the services; the gateway, decompose's own code,
    runs with this interpreter when that venv lacks the gateway's requirements (httpx) -
    a real virtualenv, whose python is a symlink to the same binary with other packages."""
    import venv

    env_dir = tmp_path / "appvenv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    py = str(env_dir / "bin" / "python")
    root = write_fake_output(tmp_path / "out")
    (root / "gateway/requirements.txt").write_text("httpx\n")
    m = load_manifest(root)
    pythons, lacking = unit_pythons(m, py)
    assert pythons == {"namer": py, "greeter": py, "gateway": sys.executable} and lacking == {}
    (root / "services/namer/requirements.txt").write_text("decompose-no-such-dist==1.0\nhttpx\n")
    pythons, lacking = unit_pythons(load_manifest(root), py)
    assert pythons["namer"] == py and lacking == {"namer": ["decompose-no-such-dist==1.0", "httpx"]}
    said = []
    running = up_local(load_manifest(root), port=free_port(), timeout=30, python=py,
                       status=lambda n, t: said.append((n, t)))
    try:
        assert _get(running.url + "/hello")  # through the gateway to greeter and namer
        argv = {p["name"]: p["argv"][0] for p in json.loads((run_dir(root) / "local.json").read_text())["processes"]}
        assert argv == {"namer": py, "greeter": py, "gateway": sys.executable}
    finally:
        down_local(root)
    assert ("namer", f"warning: not installed in {py}: decompose-no-such-dist==1.0, httpx") in said
    assert ("gateway", f"runs with {sys.executable}: {py} lacks its requirements") in said


def test_up_local_names_packages_this_python_lacks_when_a_service_fails(tmp_path):
    root = write_fake_output(tmp_path / "out", crash="ModuleNotFoundError: No module named 'nosuchdist'")
    (root / "services/greeter/requirements.txt").write_text(
        "# comment\nhttpx==0.0.1  # another version still runs\n-c constraints.txt\ndecompose-no-such-dist==1.0\n"
    )
    assert missing_requirements(root / "services/greeter/requirements.txt") == ["decompose-no-such-dist==1.0"]
    assert missing_requirements(root / "services/namer/requirements.txt") == []  # no file
    said = []
    try:
        with pytest.raises(UpFailed) as exc:
            up_local(load_manifest(root), port=free_port(), timeout=20, status=lambda n, t: said.append((n, t)))
    finally:
        down_local(root)
    assert ("greeter", "warning: not installed in this Python: decompose-no-such-dist==1.0") in said
    assert "greeter needs decompose-no-such-dist==1.0: " in exc.value.hint
    assert "-m pip install -r " in exc.value.hint and "services/greeter/requirements.txt" in exc.value.hint


class _StateOnly:
    """A container as ``docker inspect`` describes it (only what ``_container_failure`` reads)."""

    def __init__(self, health_log):
        self.attrs = {"State": {"Status": "running", "Running": True,
                                "Health": {"Status": "unhealthy", "Log": health_log}}, "RestartCount": 0}

    def reload(self):
        pass

    def logs(self, tail=None):
        return b"booting\n"


def test_unhealthy_only_because_checks_timed_out_is_not_a_failure_yet():
    """On a loaded machine the image's HEALTHCHECK can time out while the app still boots: Docker says
    "unhealthy", yet the service comes up; up keeps probing until its own deadline.  A check that got an
    answer and failed is a failure at once."""
    from decompose.runtime.runner import _container_failure

    timed_out = [{"ExitCode": -1, "Output": "Health check exceeded timeout (3s)"}] * 3
    assert _container_failure("catalog", _StateOnly(timed_out)) is None
    answered = [{"ExitCode": 1, "Output": "HTTP Error 503: Service Unavailable\ndatabase: OperationalError"}] * 3
    failure = _container_failure("catalog", _StateOnly(answered))
    assert failure is not None and failure.reason.startswith("unhealthy: HTTP Error 503")
