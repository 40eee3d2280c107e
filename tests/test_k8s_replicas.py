"""The plan's ``replicas:`` per service reaches the Kubernetes prod overlay (Deployment and its
HorizontalPodAutoscaler), rendered by ``kubectl kustomize`` and accepted by kubernetes-validate --strict;
the dev overlay keeps one replica of everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from decompose.generation.output import generation_for, render_outputs, write_outputs
from decompose.planning.planfile import save_plan
from tests.generate_support import reference_plan, tool


def _scaling(rendered: str) -> dict[str, tuple]:
    out = {}
    for d in yaml.safe_load_all(rendered):
        if d and d["kind"] in ("Deployment", "HorizontalPodAutoscaler"):
            s = d["spec"]
            out[(d["kind"], d["metadata"]["name"])] = s.get("replicas") or (s["minReplicas"], s["maxReplicas"])
    return out


def test_replicas_of_the_plan_in_the_prod_overlay(tmp_path: Path):
    plan = reference_plan()
    by = plan.services
    names = sorted(by)
    keep_one, scale_out = names[0], names[1]
    by[keep_one].replicas = 1  # e.g. module-level state that must not diverge between replicas
    by[scale_out].replicas = 4
    path = tmp_path / "decompose.yaml"
    save_plan(plan, path)
    gen, root, facts, sources = generation_for(path)
    out = tmp_path / "out"
    write_outputs(out, render_outputs(gen, facts, sources, root=root).files)
    assert subprocess.run([sys.executable, str(out / "make-secrets.py")], capture_output=True, timeout=60).returncode == 0
    kubectl = tool("kubectl")
    rendered = {}
    for overlay in ("dev", "prod"):
        r = subprocess.run([kubectl, "kustomize", str(out / "k8s/overlays" / overlay)], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        rendered[overlay] = r.stdout
    prod, dev = _scaling(rendered["prod"]), _scaling(rendered["dev"])
    assert prod[("Deployment", keep_one)] == 1 and prod[("HorizontalPodAutoscaler", keep_one)] == (1, 1)
    assert prod[("Deployment", scale_out)] == 4 and prod[("HorizontalPodAutoscaler", scale_out)] == (4, 6)
    others = [n for n in names if n not in (keep_one, scale_out)]
    assert others and all(prod[("Deployment", n)] == 2 and prod[("HorizontalPodAutoscaler", n)] == (2, 6)
                          for n in others)
    assert {v for k, v in dev.items() if k[0] == "Deployment"} == {1}
    f = tmp_path / "prod.yaml"
    f.write_text(rendered["prod"])
    r = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", str(f)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
