"""``decompose up --swarm``: the sample's split system as Docker Swarm services, 2 replicas each, on
PostgreSQL; the monolith's own suite passes through the gateway; under a bounded load one replica of
each service is killed in turn with no failed read and no lost acknowledged write; ``down`` removes
everything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_command import decompose_cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_monolith"
PROJECT = "swarmtest"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def swarm_engine(docker_client_fixture):
    """A one-node swarm (made here when the engine is not one, and left again afterwards)."""
    client = docker_client_fixture
    made = (client.info().get("Swarm") or {}).get("LocalNodeState") != "active"
    if made:
        client.swarm.init(advertise_addr="127.0.0.1")
    yield client
    if made:
        client.swarm.leave(force=True)


def test_swarm_refuses_an_engine_that_is_not_a_manager():
    from decompose.runtime.swarm import swarm_state

    class Engine:
        def __init__(self, swarm):
            self._swarm = swarm

        def info(self):
            return {"Swarm": self._swarm}

    assert "docker swarm init" in swarm_state(Engine({"LocalNodeState": "inactive"}))
    assert "worker" in swarm_state(Engine({"LocalNodeState": "active", "ControlAvailable": False}))
    assert swarm_state(Engine({"LocalNodeState": "active", "ControlAvailable": True})) == "active"


@pytest.mark.docker
def test_sample_runs_as_a_swarm_stack_with_two_replicas_and_its_suite_passes(tmp_path, swarm_engine):
    client = swarm_engine
    cli = decompose_cli()

    def run(*args, timeout=900):
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=timeout)

    plan, out = tmp_path / "plan.yaml", tmp_path / "out"
    assert run("plan", str(SAMPLE), "-o", str(plan)).returncode == 0
    plan.write_text(plan.read_text().replace("project: shop", f"project: {PROJECT}"))
    r = run("generate", "--plan", str(plan), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert run("build", str(out)).returncode == 0
    port = _free_port()
    try:
        r = run("up", str(out), "--swarm", "--replicas", "2", "--port", str(port), "--timeout", "600")
        assert r.returncode == 0, "\n".join(line for line in r.stderr.splitlines() if " | " not in line)
        label = f"io.decompose.project={PROJECT}"
        services = {s.name: s for s in client.services.list(filters={"label": label})}
        assert f"{PROJECT}-postgres" in services and f"{PROJECT}-gateway" in services
        for name, s in services.items():
            spec = s.attrs["Spec"]
            assert spec["EndpointSpec"]["Mode"] == "dnsrr"
            running = [t for t in s.tasks() if t["Status"]["State"] == "running"]
            want = 1 if name.endswith(("-postgres", "-gateway")) else 2
            assert len(running) == want, (name, [t["Status"] for t in s.tasks()])
            env = spec["TaskTemplate"]["ContainerSpec"].get("Env") or []
            assert not any(e.startswith(("DECOMPOSE_RPC_SECRET=", "SHOP_DATABASE_URL=")) for e in env)  # files only
        suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=SAMPLE,
                               env={**os.environ, "SHOP_BASE_URL": f"http://127.0.0.1:{port}"},
                               capture_output=True, text=True, timeout=1200)
        assert suite.returncode == 0, suite.stdout[-3000:]
        assert " passed" in suite.stdout and "failed" not in suite.stdout
        # faults: bounded load through the gateway while one replica of each service is killed in turn
        sys.path.insert(0, str(ROOT))
        from benchmarks.faults import run as fault_run

        fig = fault_run(out, f"http://127.0.0.1:{port}", seconds=45, workers=4, interval=6, max_requests=5000)
        killed = [k for k in fig["kills"] if k["killed"]]
        assert len(killed) >= 6, fig["kills"]  # every service lost a replica
        assert fig["requests"] > 100
        assert fig["failed_idempotent"] == 0, fig
        assert fig["acknowledged_writes"] > 0 and fig["lost_writes"] == [], fig
        print("faults:", {k: fig[k] for k in ("requests", "failed_idempotent", "failed_writes_unacknowledged",
                                              "p50_ms", "p99_ms", "acknowledged_writes", "readable_after")})
    finally:
        r = run("down", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    label = f"io.decompose.project={PROJECT}"
    assert client.services.list(filters={"label": label}) == []
    assert client.secrets.list(filters={"label": label}) == []
    assert [n for n in client.networks.list(filters={"label": label})] == []


def test_replicas_come_from_the_plan(tmp_path):
    import json

    from decompose.runtime.swarm import planned_replicas

    (tmp_path / "decompose-output.json").write_text(json.dumps(
        {"services": [{"name": "catalog", "replicas": 1}, {"name": "orders", "replicas": 3}, {"name": "odd"}]}))
    assert planned_replicas(tmp_path) == {"catalog": 1, "orders": 3}
    assert planned_replicas(tmp_path / "missing") == {}
