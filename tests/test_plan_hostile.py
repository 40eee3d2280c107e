"""Hostile plans: alias bombs, deep nesting, huge files and wrong types are refused
with one ``error:`` line naming the file, before any work, by every command that
reads a plan (plan --check, evaluate, generate, check) and by the reference loader.

Measured before the loader limits (sample_monolith's plan, a 9-level alias bomb
of 9 under ``catalog.tables``): ``plan --check`` ran 300 s and peaked at 3.4 GB
RSS, then *accepted* the plan; 5,000 nested ``[`` gave a RecursionError
traceback.  After: refused in well under a second of loading.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.cli import app
from decompose.planning import planfile
from decompose.planning.plan import PlanError
from decompose.planning.planfile import load_plan, loads_plan
from decompose.planning.reference import load_reference

SAMPLE = Path(__file__).resolve().parent.parent / "sample_monolith"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def bomb(levels: int, width: int = 9) -> str:
    """A flow list of ``levels`` anchors, each ``width`` aliases of the one before."""
    parts = [f"&l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        parts.append(f"&l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "[" + ", ".join(parts) + "]"


@pytest.fixture(scope="module")
def plan_text(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("hostile")
    out = d / "decompose.yaml"
    r = run("plan", str(SAMPLE), "--output", str(out), "--no-history", "--no-cache", "--quiet")
    assert r.exit_code == 0, r.stderr
    return out.read_text()


def replace_key(text: str, service: str, key: str, value: str) -> str:
    """Replace ``services.<service>.<key>`` (a block list) by ``key: value``."""
    start = text.index(f"  {service}:\n")
    m = re.compile(rf"    {key}:\n(    - .*\n)*").search(text, start)
    assert m is not None
    return text[: m.start()] + f"    {key}: {value}\n" + text[m.end():]


def assert_one_error_line(r, name: str) -> str:
    assert r.exit_code == 2, (r.exit_code, r.stdout[-500:], r.stderr[-2000:])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and name in lines[0], lines[0]
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]


def commands(plan: Path, tmp: Path, good: Path) -> dict[str, list[str]]:
    ref = SAMPLE / "reference.yaml"
    return {
        "plan --check": ["plan", "--check", "--plan", str(plan), "-q", "--no-cache"],
        "evaluate": ["evaluate", "--plan", str(plan), "--reference", str(ref)],
        "evaluate --reference": ["evaluate", "--plan", str(good), "--reference", str(plan)],
        "generate": ["generate", "--plan", str(plan), "-o", str(tmp / "out"), "--no-cache"],
        "check": ["check", "--plan", str(plan), "--path", str(SAMPLE), "--cache-dir", str(tmp / "cache")],
    }


HOSTILE = {
    # 9**7 = 4.8 million strings under one service's tables: before, loaded and expanded (exit 0)
    "alias bomb in tables": lambda t: replace_key(t, "catalog", "tables", bomb(7)),
    "alias bomb in modules": lambda t: replace_key(t, "catalog", "modules", bomb(7)),
    "deep nesting": lambda t: t.replace("\nquality:\n", "\nquality:\n  deep: " + "[" * 5000 + "]" * 5000 + "\n", 1),
    "recursive alias": lambda t: t.replace("\nquality:\n", "\nquality: &q\n  self: *q\n", 1),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("command", ["plan --check", "evaluate", "evaluate --reference", "generate", "check"])
def test_hostile_plan_is_refused_with_one_line_by_every_command(plan_text, tmp_path, case, command):
    plan = tmp_path / "bad.yaml"
    plan.write_text(HOSTILE[case](plan_text))
    good = tmp_path / "good.yaml"
    good.write_text(plan_text)  # evaluate reads no source
    t0 = time.monotonic()
    r = run(*commands(plan, tmp_path, good)[command])
    elapsed = time.monotonic() - t0
    line = assert_one_error_line(r, "bad.yaml")
    assert "refusing to load it" in line, line
    assert elapsed < 10, f"{command} took {elapsed:.1f}s to refuse {case}"
    assert not (tmp_path / "out").exists()


def test_limits_are_named():
    with pytest.raises(PlanError) as e:
        loads_plan("services: " + bomb(8), "p.yaml")
    assert e.value.problems == [
        "p.yaml:1: more than 500,000 values once its aliases are expanded (an alias bomb?); refusing to load it"
    ]
    with pytest.raises(PlanError) as e:
        loads_plan("[" * 100 + "]" * 100, "p.yaml")
    assert e.value.problems == ["p.yaml:1: nested deeper than 32 levels; refusing to load it"]
    with pytest.raises(PlanError) as e:
        loads_plan("a: [" + ", ".join(["&x 1"] + ["*x"] * 1001) + "]", "p.yaml")
    assert e.value.problems == ["p.yaml:1: more than 1000 YAML aliases; refusing to load it"]
    with pytest.raises(PlanError) as e:
        loads_plan("a: &a [b, *a]", "p.yaml")
    assert e.value.problems == ["p.yaml:1: recursive YAML alias *a; refusing to load it"]


def test_a_few_aliases_are_fine():
    plan = loads_plan(
        "project: shop\nservices:\n  a: {modules: &m [shop.a], tables: &t [x, y]}\n  b: {modules: [shop.b], tables: *t}\n"
    )
    assert plan.services["b"].tables == ["x", "y"]


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(planfile, "MAX_PLAN_BYTES", 1000)
    big = tmp_path / "big.yaml"
    big.write_text("project: shop\n" + "# padding\n" * 200)
    opened = []
    real_open = open

    def spy(path, *a, **kw):
        opened.append(str(path))
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", spy)
    for loader in (load_plan, load_reference):
        with pytest.raises(PlanError) as e:
            loader(big)
        assert e.value.problems == [
            f"{big}: 2,014 bytes, larger than the 1,000 a {'plan' if loader is load_plan else 'reference'} "
            "may have; refusing to load it"
        ]
    assert str(big) not in opened
    with pytest.raises(PlanError) as e:
        loads_plan("x" * 1001, "t.yaml")
    assert e.value.problems == ["t.yaml: larger than 1,000 bytes; refusing to load it"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: replace_key(t, "catalog", "modules", "42"),
         "service 'catalog': 'modules' must be a list of dotted module names, got an integer"),
        (lambda t: replace_key(t, "catalog", "modules", "{a: b}"),
         "service 'catalog': 'modules' must be a list of dotted module names, got a mapping"),
        (lambda t: replace_key(t, "catalog", "modules", "[shop.catalog, [shop.catalog.api]]"),
         "service 'catalog': 'modules' must be a list of dotted module names, but item 2 is a list"),
        (lambda t: replace_key(t, "catalog", "modules", "'shop.catalog'"),
         "service 'catalog': 'modules' must be a list of dotted module names, got a string"),
        (lambda t: replace_key(t, "catalog", "tables", "products"),
         "service 'catalog': 'tables' must be a list of table names, got a string"),
        (lambda t: re.sub(r"shared:\n  modules:\n(  - .*\n)*", "shared:\n  modules: 7\n", t),
         "shared: 'modules' must be a list of dotted module names, got an integer"),
    ],
)
def test_type_problems_are_named_not_reported_as_missing_modules(plan_text, tmp_path, edit, message):
    plan = tmp_path / "decompose.yaml"
    plan.write_text(edit(plan_text))
    r = run("plan", "--check", "--plan", str(plan), "-q", "--no-cache")
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert f"error: {plan}: {message}" in errors, r.stderr
    assert not any("has no modules" in line for line in errors), r.stderr
    assert "Traceback" not in r.stderr


def test_wrong_types_of_informational_keys_are_named():
    for text, problem in [
        ("quality: [1, 2]", "'quality' must be a mapping, got a list"),
        ("quality: ab", "'quality' must be a mapping, got a string"),
        ("blockers: 5", "'blockers' must be a list of mappings, got an integer"),
        ("blockers: [1]", "'blockers' must be a list of mappings, got an integer in it"),
        ("source: [a]", "'source' must be a string (a folder relative to the plan), got a list"),
        ("shared: [a]", "'shared' must be a mapping with a 'modules' list, got a list"),
    ]:
        with pytest.raises(PlanError) as e:
            loads_plan(f"project: shop\nservices: {{a: {{modules: [shop.a]}}}}\n{text}\n", "p.yaml")
        assert e.value.problems == [f"p.yaml: {problem}"], text


def test_keys_of_mixed_types_do_not_crash_sorting():
    with pytest.raises(PlanError) as e:
        loads_plan("project: shop\n1: x\nb: y\nservices: {a: {modules: [shop.a], 2: z, c: w}}\n", "p.yaml")
    assert e.value.problems == [
        "p.yaml: unknown top-level key 'b'",
        "p.yaml: unknown top-level key 1",
        "p.yaml: service 'a': unknown key 'c'",
        "p.yaml: service 'a': unknown key 2",
    ]
    plan = loads_plan("project: shop\nservices: {a: {modules: [shop.a]}}\nquality: {1: x, b: y, null: z}\n")
    assert list(plan.to_dict()["quality"]) == ["b", None, 1]


def test_bad_explicit_tags_and_unhashable_keys_are_invalid_yaml():
    """Found by tests/test_fuzz.py: PyYAML's constructors raise AttributeError/ValueError
    on bad tagged values, and the duplicate-key check met unhashable keys first."""
    for text, problem in [
        ("a: !!timestamp x", "p.yaml: invalid YAML: a value cannot be built (AttributeError: "),
        ("a: !!int 0xZZ", "p.yaml: invalid YAML: a value cannot be built (ValueError: "),
        ("{!!set {a}: 1}", "p.yaml:1: invalid YAML: found an unhashable key (set)"),
        ("? [a]\n: 1", "p.yaml:1: invalid YAML: found an unhashable key (list)"),
    ]:
        with pytest.raises(PlanError) as e:
            loads_plan(text, "p.yaml")
        assert len(e.value.problems) == 1 and e.value.problems[0].startswith(problem), (text, e.value.problems)
