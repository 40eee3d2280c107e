"""A check's result and its machine-readable reports (pure): :class:`CheckResult`, JSON, SARIF 2.1.0.

This module owns what a run of the check hands back (:class:`CheckResult`:
findings, dependency changes, the baseline used, skipped files, timings and
stats, the exit status) and its two documented shapes: :func:`to_json_dict`
(``--format json``, version 1) and :func:`to_sarif_dict` (``--format sarif``,
one run with the rule table of :mod:`decompose.guard.rules` and a stable
fingerprint per finding).  The text output is the command line's
(``decompose.cli.check``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decompose.guard.evaluation import ModuleChange
from decompose.guard.rules import RULES, Finding


@dataclass
class CheckResult:
    root: Path
    checked: list[str]  # modules
    findings: list[Finding]
    changes: list[ModuleChange]
    base: str  # description of the baseline
    plan: str | None  # plan file used
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of FILES not checked
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def to_json_dict(r: CheckResult) -> dict[str, Any]:
    counts = Counter(f.level for f in r.findings)
    return {
        "version": 1,
        "root": str(r.root),
        "base": r.base,
        "plan": r.plan,
        "checked": sorted(r.checked),
        "summary": {"errors": counts["error"], "warnings": counts["warning"], "notes": counts["note"],
                    "exit_code": r.exit_code},
        "findings": [f.to_dict() for f in r.findings],
        "changes": [c.to_dict() for c in r.changes],
        "skipped": [{"path": p, "reason": why} for p, why in r.skipped],
        "timings": {k: round(v, 4) for k, v in r.timings.items()},
        "stats": r.stats,
    }


SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def to_sarif_dict(r: CheckResult, tool_version: str) -> dict[str, Any]:
    rule_ids = list(RULES)
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.short},
            "fullDescription": {"text": f"{rule.short}."},
            "help": {"text": rule.help},
            "defaultConfiguration": {"level": rule.level},
        }
        for rule in RULES.values()
    ]
    results = []
    for f in r.findings:
        fp = hashlib.sha256(f"{f.rule}\0{f.module}\0{f.statement}\0{f.target}".encode()).hexdigest()[:32]
        results.append({
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": f.level,
            "message": {"text": f"{f.message}" + (f" [{f.statement}]" if f.statement else "")},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": f.path, "uriBaseId": "SRCROOT"},
                    "region": {"startLine": max(1, f.line)},
                },
                "logicalLocations": [{"fullyQualifiedName": f.module, "kind": "module"}],
            }],
            "partialFingerprints": {"decomposeFinding/v1": fp},
            "properties": {"target": f.target, "statement": f.statement},
        })
    root_uri = r.root.resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "decompose",
                "semanticVersion": tool_version,
                "version": tool_version,
                "informationUri": "https://pypi.org/project/decompose/",
                "rules": rules,
            }},
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
            "invocations": [{"executionSuccessful": True, "exitCode": r.exit_code}],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
