"""`decompose build / up / down` as a user runs them: exit codes, stdout URL, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from conftest import write_fake_output

from decompose.runtime.runner import free_port


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "decompose", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_bad_output_folder_is_exit_2_with_one_line(tmp_path):
    for cmd in ("build", "up"):
        r = run(cmd, str(tmp_path / "missing"))
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: no such folder (run `decompose generate` first)"]
    r = run("down")
    assert r.returncode == 2 and "give the output folder or --project" in r.stderr
    r = run("up", "--local", "--build", str(tmp_path))
    assert r.returncode == 2 and "decompose-output.json: not found" in r.stderr


def test_up_local_prints_the_url_and_down_local_stops_everything(tmp_path):
    root = write_fake_output(tmp_path / "out")
    r = run("up", "--local", "--build", str(root))
    assert r.returncode == 2 and "--build builds Docker images; --local runs without them" in r.stderr
    port = free_port()
    r = run("up", "--local", "--port", str(port), "--timeout", "30", str(root))
    try:
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as resp:
            assert json.load(resp) == {"greeting": "hello world"}
    finally:
        d = run("down", "--local", str(root))
    assert d.returncode == 0 and "stopped 3 process(es): namer, greeter, gateway" in d.stderr
    assert run("down", "--local", str(root)).stderr.strip() == "stopped 0 process(es)"


def test_up_local_failure_is_exit_1_naming_the_service_with_its_log(tmp_path):
    root = write_fake_output(tmp_path / "out", crash="no DATABASE_URL")
    r = run("up", "--local", "--port", str(free_port()), "--timeout", "30", str(root))
    try:
        assert r.returncode == 1
        lines = r.stderr.splitlines()
        assert "error: 1 unit(s) failed to start: greeter (exited with code 3)" in lines
        assert "  greeter | fatal: no DATABASE_URL" in lines
    finally:
        assert run("down", "--local", str(root)).returncode == 0


@pytest.mark.docker
def test_build_up_down_with_docker(tmp_path, base_image, docker_client_fixture):
    root = write_fake_output(tmp_path / "out", project="dccli")
    try:
        b = run("build", "--base-image", base_image, str(root))
        assert b.returncode == 0, b.stderr
        assert [ln.split(" (")[0] for ln in b.stdout.splitlines()] == [
            "built dccli/namer:0.1.0", "built dccli/greeter:0.1.0", "built dccli/gateway:0.1.0"
        ]
        port = free_port()
        u = run("up", "--port", str(port), "--timeout", "60", str(root))
        assert u.returncode == 0, u.stderr
        assert u.stdout.strip() == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as resp:
            assert json.load(resp) == {"greeting": "hello world"}
        # `up --build` in one step, replacing the running system
        u = run("up", "--build", "--base-image", base_image, "--port", str(port), str(root))
        assert u.returncode == 0, u.stderr
        assert "namer: built dccli/namer:0.1.0" in u.stderr and "removed 3 container(s) of a previous run" in u.stderr
    finally:
        d = run("down", str(root))
        assert d.returncode == 0
        assert "removed 3 container(s), 1 network(s) of project 'dccli'" in d.stderr
        assert "removed 0 container(s), 0 network(s)" in run("down", "--project", "dccli").stderr
        for img in docker_client_fixture.images.list(filters={"label": "io.decompose.project=dccli"}):
            docker_client_fixture.images.remove(img.id, force=True)


@pytest.mark.docker
def test_build_failure_is_exit_1_with_the_failing_step(tmp_path, base_image, docker_client_fixture):
    root = write_fake_output(tmp_path / "out", project="dcclifail", dockerfile_extra="RUN echo bad-step-output && false\n")
    try:
        b = run("build", "-q", "--base-image", base_image, "--service", "greeter", str(root))
        assert b.returncode == 1
        first = b.stderr.splitlines()[0]
        assert first.startswith("error: build of 'greeter' failed at step 9/") and "RUN echo bad-step-output && false" in first
        assert "returned a non-zero code: 1" in first
        assert "  greeter | bad-step-output" in b.stderr.splitlines()
        assert b.stderr.splitlines()[-1].startswith("0 built, 1 failed")
        j = run("build", "-q", "-f", "json", "--base-image", base_image, "--service", "greeter", str(root))
        assert j.returncode == 1
        data = json.loads(j.stdout)
        assert data["built"] == [] and [f["service"] for f in data["failed"]] == ["greeter"]
        assert "RUN echo bad-step-output && false" in data["failed"][0]["step"] and "bad-step-output" in data["failed"][0]["log"]
    finally:
        for img in docker_client_fixture.images.list(filters={"label": "io.decompose.project=dcclifail"}):
            docker_client_fixture.images.remove(img.id, force=True)


def test_up_and_down_local_json_for_scripts(tmp_path):
    root = write_fake_output(tmp_path / "out")
    port = free_port()
    r = run("up", "--local", "--port", str(port), "--timeout", "30", "--format", "json", str(root))
    try:
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert data["ready"] is True and data["mode"] == "local" and data["project"] == "fakeshop"
        assert data["url"] == f"http://127.0.0.1:{port}"
        assert sorted(data["units"]) == ["gateway", "greeter", "namer"]
    finally:
        d = run("down", "--local", "--format", "json", str(root))
    assert d.returncode == 0 and json.loads(d.stdout) == {"mode": "local", "stopped": ["gateway", "greeter", "namer"]}
    bad = write_fake_output(tmp_path / "bad", crash="no DATABASE_URL")
    r = run("up", "--local", "--port", str(free_port()), "--timeout", "30", "-f", "json", str(bad))
    try:
        assert r.returncode == 1
        failures = json.loads(r.stdout)["failures"]
        assert [f["name"] for f in failures] == ["greeter"] and "fatal: no DATABASE_URL" in failures[0]["logs"]
    finally:
        run("down", "--local", str(bad))
