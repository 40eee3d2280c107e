"""decompose up/down with a real Docker engine: network, aliases, labels, faults, cleanup."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest
from conftest import write_fake_output

from decompose.runtime.docker_build import LABEL_PROJECT, build_all, load_manifest
from decompose.runtime.runner import RunError, UpFailed, down_docker, free_port, up_docker

pytestmark = pytest.mark.docker

PROJECT = "dcrun"


@pytest.fixture(scope="module")
def built(tmp_path_factory, docker_client_fixture, base_image):
    """The fake output built once for this module; images removed afterwards."""
    root = write_fake_output(tmp_path_factory.mktemp("run") / "out", project=PROJECT)
    m = load_manifest(root)
    down_docker(PROJECT, client=docker_client_fixture)
    _, failed = build_all(m, client=docker_client_fixture, base_image=base_image)
    assert not failed, [str(f) for f in failed]
    yield root
    down_docker(PROJECT, client=docker_client_fixture)
    for u in m.units:
        docker_client_fixture.images.remove(u.image, force=True)


def _project_objects(client) -> tuple[list[str], list[str]]:
    flt = {"label": f"{LABEL_PROJECT}={PROJECT}"}
    return (
        sorted(c.name for c in client.containers.list(all=True, filters=flt)),
        sorted(n.name for n in client.networks.list(filters=flt)),
    )


def _with_manifest_change(root, change) -> None:
    path = root / "decompose-output.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.fixture
def fresh(built):
    """Restore the manifest after tests that edit it."""
    path = built / "decompose-output.json"
    original = path.read_text()
    yield built
    path.write_text(original)


def test_up_serves_through_the_gateway_by_service_name_and_down_removes_everything(fresh, docker_client_fixture):
    client = docker_client_fixture
    m = load_manifest(fresh)
    port = free_port()
    running = up_docker(m, port=port, timeout=60, client=client)
    try:
        # gateway -> greeter -> namer: both hops resolve service names on the project network
        with urllib.request.urlopen(f"{running.url}/hello", timeout=5) as r:
            assert json.load(r) == {"greeting": "hello world"}
        containers, networks = _project_objects(client)
        assert containers == ["dcrun-gateway", "dcrun-greeter", "dcrun-namer"]
        assert networks == [PROJECT]
        net = client.networks.get(PROJECT)
        assert net.attrs["Driver"] == "bridge"
        greeter = client.containers.get("dcrun-greeter")
        assert "greeter" in greeter.attrs["NetworkSettings"]["Networks"][PROJECT]["Aliases"]
        assert greeter.attrs["State"]["Running"] is True
        assert "DECOMPOSE_NAMER_URL=http://namer:8000" in greeter.attrs["Config"]["Env"]
        # only the gateway publishes, and only on loopback
        assert greeter.attrs["HostConfig"]["PortBindings"] in (None, {})
        gw = client.containers.get("dcrun-gateway")
        assert gw.attrs["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
        # up again replaces the previous run
        running = up_docker(m, port=port, timeout=60, client=client)
        assert _project_objects(client)[0] == containers
    finally:
        removed = down_docker(PROJECT, client=client)
    assert removed == (["dcrun-gateway", "dcrun-greeter", "dcrun-namer"], [PROJECT])
    assert _project_objects(client) == ([], [])
    assert down_docker(PROJECT, client=client) == ([], [])  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_crashing_service_is_named_with_its_last_log_lines_and_down_cleans_up(fresh, docker_client_fixture):
    client = docker_client_fixture
    _with_manifest_change(fresh, lambda d: d["services"][1]["env"].update(CRASH="cannot open database /data/greeter.db"))
    m = load_manifest(fresh)
    with pytest.raises(UpFailed) as exc:
        up_docker(m, port=free_port(), timeout=60, client=client)
    (f,) = exc.value.failures
    assert f.name == "greeter"
    assert f.reason == "exited with code 3"
    assert f.logs == ["fatal: cannot open database /data/greeter.db"]
    assert "decompose down" in exc.value.hint
    # left for inspection, until down
    assert len(_project_objects(client)[0]) == 3
    down_docker(PROJECT, client=client)
    assert _project_objects(client) == ([], [])


def test_service_that_never_gets_ready_is_named_with_the_probe_output(fresh, docker_client_fixture):
    client = docker_client_fixture
    _with_manifest_change(fresh, lambda d: d["services"][0].update(ready="/not-ready"))
    m = load_manifest(fresh)
    try:
        with pytest.raises(UpFailed) as exc:
            up_docker(m, port=free_port(), timeout=6, client=client)
        (f,) = exc.value.failures
        assert f.name == "namer"
        assert f.reason.startswith("not ready after 6s")
        assert "HTTP Error 404" in f.reason  # the readiness probe's own output
        assert any("GET /not-ready" in line for line in f.logs)
    finally:
        down_docker(PROJECT, client=client)
    assert _project_objects(client) == ([], [])


def test_missing_images_and_a_busy_port_are_refused_before_starting_anything(fresh, docker_client_fixture, tmp_path):
    client = docker_client_fixture
    other = load_manifest(write_fake_output(tmp_path / "other", project="dcnever"))
    with pytest.raises(RunError, match=r"image\(s\) not built: dcnever/namer:0.1.0"):
        up_docker(other, port=free_port(), client=client)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(RunError, match="already in use"):
            up_docker(load_manifest(fresh), port=s.getsockname()[1], client=client)
    assert _project_objects(client) == ([], [])


def test_services_sharing_a_volume_see_each_others_files_on_a_read_only_root(tmp_path, docker_client_fixture, base_image):
    client = docker_client_fixture
    root = write_fake_output(tmp_path / "out", project="dcvol", shared_volume=True)
    m = load_manifest(root)
    _, failed = build_all(m, client=client, base_image=base_image)
    assert not failed
    try:
        running = up_docker(m, port=free_port(), timeout=60, client=client)
        with urllib.request.urlopen(f"{running.url}/state", timeout=5) as r:
            assert json.load(r) == {"lines": ["greeter", "namer"]}
        namer = client.containers.get("dcvol-namer")
        assert namer.attrs["HostConfig"]["ReadonlyRootfs"] is True
        assert namer.attrs["HostConfig"]["CapDrop"] == ["ALL"]
        assert [v.name for v in client.volumes.list(filters={"label": f"{LABEL_PROJECT}=dcvol"})] == ["dcvol-state"]
        code, output = namer.exec_run(["python", "-c", "open('/app/x', 'w')"])
        assert code != 0 and b"Read-only file system" in output
    finally:
        down_docker("dcvol", client=client)
        for u in m.units:
            client.images.remove(u.image, force=True)
    assert client.volumes.list(filters={"label": f"{LABEL_PROJECT}=dcvol"}) == []


def test_service_whose_image_healthcheck_fails_is_reported_unhealthy(tmp_path, docker_client_fixture, base_image):
    client = docker_client_fixture
    extra = 'HEALTHCHECK --interval=1s --timeout=3s --retries=1 CMD ["python", "-c", "print(\'db down\'); raise SystemExit(1)"]\n'
    root = write_fake_output(tmp_path / "out", project="dcunh", dockerfile_extra=extra)
    _with_manifest_change(root, lambda d: d["services"][1].update(ready="/never"))
    m = load_manifest(root)
    _, failed = build_all(m, client=client, base_image=base_image, only=["greeter", "namer", "gateway"])
    assert not failed
    try:
        with pytest.raises(UpFailed) as exc:
            up_docker(m, port=free_port(), timeout=60, client=client)
        (f,) = exc.value.failures
        assert f.name == "greeter" and f.reason == "unhealthy: db down"
        assert "greeter listening on 8000" in f.logs
    finally:
        down_docker("dcunh", client=client)
        for u in m.units:
            client.images.remove(u.image, force=True)


def test_image_whose_command_cannot_start_is_named_and_down_cleans_up(tmp_path, docker_client_fixture, base_image):
    client = docker_client_fixture
    root = write_fake_output(tmp_path / "out", project="dcnocmd", dockerfile_extra='CMD ["/app/no-such-server"]\n')
    m = load_manifest(root)
    _, failed = build_all(m, client=client, base_image=base_image)
    assert not failed
    try:
        with pytest.raises(UpFailed) as exc:
            up_docker(m, port=free_port(), timeout=30, client=client)
        (f,) = exc.value.failures
        assert f.name == "greeter"
        assert f.reason.startswith("cannot start container: ") and "no-such-server" in f.reason
    finally:
        removed, networks = down_docker("dcnocmd", client=client)
        for u in m.units:
            client.images.remove(u.image, force=True)
    assert "dcnocmd-greeter" in removed and networks == ["dcnocmd"]
    assert client.containers.list(all=True, filters={"label": f"{LABEL_PROJECT}=dcnocmd"}) == []


def test_down_removes_a_network_a_foreign_container_is_still_attached_to(docker_client_fixture, base_image):
    """LNbits' verify stopped on the engine's "network ... has active endpoints" (a traceback): a
    container that is not the project's was still on its network when `up` took the previous run down."""
    client = docker_client_fixture
    net = client.networks.create("dcfore-net", labels={LABEL_PROJECT: "dcfore"})
    other = client.containers.run(base_image, ["sleep", "60"], detach=True, network=net.name, name="dcfore-other")
    try:
        assert down_docker("dcfore", client=client) == ([], ["dcfore-net"])
        assert not client.networks.list(names=["dcfore-net"])
        other.reload()
        assert other.status == "running"  # the foreign container itself is left alone
    finally:
        other.remove(force=True)
        for n in client.networks.list(names=["dcfore-net"]):
            n.remove()
