"""decompose build: the output manifest, build-log folding, and real image builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_fake_output

from decompose.runtime.docker_build import (
    LABEL_PROJECT,
    LABEL_SERVICE,
    BuildFailed,
    BuildLog,
    ManifestError,
    build_all,
    cache_waves,
    load_manifest,
    parse_manifest,
    url_env_name,
)

# --------------------------------------------------------------------------- manifest


def _svc(name: str, **kw) -> dict:
    return {"name": name, "context": f"services/{name}", **kw}


def test_manifest_reads_services_gateway_and_defaults(tmp_path):
    root = write_fake_output(tmp_path / "out")
    m = load_manifest(root)
    assert (m.project, m.version) == ("fakeshop", "0.1.0")
    assert [u.name for u in m.units] == ["namer", "greeter", "gateway"]
    greeter = m.unit("greeter")
    assert greeter.context == (root / "services/greeter").resolve()
    assert greeter.image == "fakeshop/greeter:0.1.0"
    assert greeter.calls == ("namer",) and greeter.routes == ("/hello",)
    assert greeter.url_env == "DECOMPOSE_GREETER_URL"
    assert m.gateway is not None and m.gateway.role == "gateway"


def test_manifest_defaults_image_port_and_probe_paths(tmp_path):
    m = parse_manifest(tmp_path, {"project": "shop", "version": "1.4.0", "services": [_svc("orders")]})
    u = m.unit("orders")
    assert (u.image, u.port, u.health, u.ready) == ("shop/orders:1.4.0", 8000, "/healthz", "/readyz")
    assert m.gateway is None


def test_manifest_accepts_env_as_list_and_services_as_mapping(tmp_path):
    data = {
        "project": "shop",
        "services": {"orders": {"context": "s/orders", "env": [{"name": "A", "value": 1}, "B=x=y"]}},
        "gateway": {"name": "gateway", "context": "gw"},
    }
    m = parse_manifest(tmp_path, data)
    assert dict(m.unit("orders").env) == {"A": "1", "B": "x=y"}
    assert m.version == "latest"


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "top level must be an object"),
        ({"project": "Shop!", "services": [_svc("a")]}, "DNS-1123"),
        ({"project": "shop", "services": []}, "non-empty list"),
        ({"project": "shop", "services": [_svc("../etc")]}, "DNS-1123"),
        ({"project": "shop", "services": [{"name": "a", "context": "../outside"}]}, "inside the output folder"),
        ({"project": "shop", "services": [{"name": "a", "context": "/abs"}]}, "inside the output folder"),
        ({"project": "shop", "services": [{"name": "a"}]}, "missing build context"),
        ({"project": "shop", "services": [_svc("a"), _svc("a")]}, "duplicate names: a"),
        ({"project": "shop", "services": [_svc("a", calls=["b"])]}, "unknown service(s): b"),
        ({"project": "shop", "services": [_svc("a", port="http")]}, "not a number"),
        ({"project": "shop", "services": [_svc("a", port=70000)]}, "out of range"),
        ({"project": "shop", "services": [_svc("a", ready="readyz")]}, "must start with '/'"),
        ({"project": "shop", "services": [_svc("a", env=[1])]}, "NAME=VALUE"),
    ],
)
def test_manifest_rejects_bad_input_with_a_clear_message(tmp_path, data, message):
    with pytest.raises(ManifestError, match=None) as exc:
        parse_manifest(tmp_path, data)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_manifest_reports_missing_folder_file_and_bad_json(tmp_path):
    with pytest.raises(ManifestError, match="no such folder"):
        load_manifest(tmp_path / "nope")
    with pytest.raises(ManifestError, match="decompose-output.json: not found"):
        load_manifest(tmp_path)
    (tmp_path / "decompose-output.json").write_text('{"project": "shop",\n "services": [}')
    with pytest.raises(ManifestError, match="invalid JSON at line 2"):
        load_manifest(tmp_path)


def test_url_env_name_matches_the_generated_clients():
    assert url_env_name("inventory") == "DECOMPOSE_INVENTORY_URL"
    assert url_env_name("order-history") == "DECOMPOSE_ORDER_HISTORY_URL"


# --------------------------------------------------------------------------- build log folding


def test_build_log_tracks_steps_and_reports_the_failing_step_with_last_lines():
    log = BuildLog("orders", keep=3)
    chunks = [
        {"stream": "Step 1/4 : ARG BASE_IMAGE=python:3.11-slim\n"},
        {"stream": "Step 2/4 : FROM ${BASE_IMAGE}\n ---> abc\n"},
        {"stream": "Step 3/4 : RUN pip install -r requirements.txt\n"},
        {"stream": " ---> Running in 123\n"},
        {"stream": "\x1b[91mERROR: No matching distribution found for flask==99\n\x1b[0m"},
        {"error": "The command '/bin/sh -c pip install -r requirements.txt' returned a non-zero code: 1",
         "errorDetail": {"code": 1, "message": "The command ... returned a non-zero code: 1"}},
    ]
    for c in chunks:
        log.feed(c)
    assert (log.step, log.total) == (3, 4)
    exc = log.failure()
    assert isinstance(exc, BuildFailed)
    text = str(exc)
    assert text.startswith("build of 'orders' failed at step 3/4 (RUN pip install -r requirements.txt): ")
    assert "returned a non-zero code: 1" in text and "\n" not in text
    assert exc.log == [
        "Step 3/4 : RUN pip install -r requirements.txt",
        " ---> Running in 123",
        "ERROR: No matching distribution found for flask==99",
    ]


def test_build_log_records_image_id_and_pull_status():
    log = BuildLog("x")
    assert log.feed({"status": "Pulling from library/python", "progress": "[==>  ]"}) == "Pulling from library/python [==>  ]"
    log.feed({"aux": {"ID": "sha256:feed"}})
    assert log.image_id == "sha256:feed" and not log.error


# --------------------------------------------------------------------------- real builds


@pytest.mark.docker
def test_build_tags_one_labelled_image_per_unit_with_progress(tmp_path, docker_client_fixture, base_image):
    root = write_fake_output(tmp_path / "out", project="dcbuild")
    m = load_manifest(root)
    seen: dict[str, set] = {}
    try:
        built, failed = build_all(
            m,
            client=docker_client_fixture,
            base_image=base_image,
            progress=lambda name, step, total, line: seen.setdefault(name, set()).add((step, total)),
        )
        assert failed == []
        assert [b.image for b in built] == ["dcbuild/namer:0.1.0", "dcbuild/greeter:0.1.0", "dcbuild/gateway:0.1.0"]
        for b in built:
            img = docker_client_fixture.images.get(b.image)
            assert img.id == b.image_id
            labels = img.labels
            assert labels[LABEL_PROJECT] == "dcbuild" and labels[LABEL_SERVICE] == b.unit
            assert img.attrs["Config"]["User"] == "65534"
        for name in ("namer", "greeter", "gateway"):
            total = max(t for _, t in seen[name])
            assert (total, total) in seen[name], f"{name}: progress never reached the last step"
        # --service builds only what is asked
        built, failed = build_all(m, client=docker_client_fixture, base_image=base_image, only=["namer"])
        assert [b.unit for b in built] == ["namer"] and not failed
        with pytest.raises(ManifestError, match="unknown service"):
            build_all(m, client=docker_client_fixture, only=["nope"])
    finally:
        for u in m.units:
            if _has(docker_client_fixture, u.image):
                docker_client_fixture.images.remove(u.image, force=True)


@pytest.mark.docker
def test_failing_step_is_named_with_its_log_and_other_images_still_build(tmp_path, docker_client_fixture, base_image):
    root = write_fake_output(
        tmp_path / "out",
        project="dcfail",
        dockerfile_extra='USER root\nRUN echo "compiling greeter" && echo "fatal: no such table" >&2 && exit 7\n',
    )
    m = load_manifest(root)
    try:
        built, failed = build_all(m, client=docker_client_fixture, base_image=base_image)
        assert sorted(b.unit for b in built) == ["gateway", "namer"]
        assert len(failed) == 1
        f = failed[0]
        assert f.service == "greeter"
        assert f.step.startswith("step 10/") and "RUN echo" in f.step
        assert "returned a non-zero code: 7" in str(f)
        assert "\n" not in str(f)
        assert "fatal: no such table" in f.log
        assert not _has(docker_client_fixture, "dcfail/greeter:0.1.0")
    finally:
        for u in m.units:
            if _has(docker_client_fixture, u.image):
                docker_client_fixture.images.remove(u.image, force=True)


@pytest.mark.docker
def test_missing_base_image_and_bad_dockerfile_are_reported(tmp_path, docker_client_fixture):
    root = write_fake_output(tmp_path / "out", project="dcbase")
    m = load_manifest(root)
    built, failed = build_all(m, client=docker_client_fixture, base_image="decompose-test/no-such-base:0", only=["namer"])
    assert not built and len(failed) == 1
    assert "step 2/" in failed[0].step and "FROM" in failed[0].step
    assert "no-such-base" in str(failed[0])
    (root / "services/namer/Dockerfile").write_text("FROM scratch\nBOGUS instruction\n")
    built, failed = build_all(m, client=docker_client_fixture, only=["namer"])
    assert not built and "unknown instruction" in str(failed[0]).lower()
    (root / "services/namer/Dockerfile").unlink()
    built, failed = build_all(m, client=docker_client_fixture, only=["namer"])
    assert "no Dockerfile in build context" in str(failed[0])


def _has(client, image: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
        return True
    except ImageNotFound:
        return False


def test_manifest_file_written_by_tests_is_valid_json(tmp_path):
    root = write_fake_output(tmp_path / "o")
    data = json.loads((root / "decompose-output.json").read_text())
    assert {s["name"] for s in data["services"]} == {"namer", "greeter"}
    assert Path(root / data["gateway"]["context"] / "Dockerfile").is_file()


def test_cache_waves_build_one_unit_per_dependency_set_first(tmp_path):
    root = write_fake_output(tmp_path / "out")
    for name, req in (("namer", "flask==3.1.3\n"), ("greeter", "flask==3.1.3\n")):
        ctx = root / "services" / name
        (ctx / "requirements.txt").write_text(req)
        (ctx / "Dockerfile").write_text(
            f"# image of {name}\nFROM python\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
            f"COPY {name}.py .\n"
        )
    m = load_manifest(root)
    leaders, followers = cache_waves(list(m.units))
    # namer and greeter differ only after the pip install line: same key
    assert [u.name for u in leaders] == ["namer", "gateway"]
    assert [u.name for u in followers] == ["greeter"]
    (root / "services/greeter/requirements.txt").write_text("flask==3.1.2\n")
    leaders, followers = cache_waves(list(m.units))
    assert [u.name for u in leaders] == ["namer", "greeter", "gateway"] and followers == []


def test_volumes_come_from_the_compose_file_when_the_manifest_has_none(tmp_path):
    root = write_fake_output(tmp_path / "out")
    data = json.loads((root / "decompose-output.json").read_text())
    data["compose"] = "compose.yaml"
    for unit in data["services"]:
        del unit["volumes"]  # as decompose generate writes it: volumes only in compose.yaml
    (root / "decompose-output.json").write_text(json.dumps(data))
    (root / "compose.yaml").write_text(
        "services:\n  namer:\n    volumes: ['namer-data:/data', 'shared-data:/shared-data']\n  gateway: {image: x}\n"
    )
    m = load_manifest(root)
    assert m.unit("namer").volumes == (("namer-data", "/data"), ("shared-data", "/shared-data"))
    assert m.unit("greeter").volumes == () and m.unit("gateway").volumes == ()
    (root / "compose.yaml").write_text("services: [unclosed\n")
    with pytest.raises(ManifestError, match="unreadable compose file"):
        load_manifest(root)
