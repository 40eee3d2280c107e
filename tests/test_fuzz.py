"""Fuzzing the two readers of untrusted input with hypothesis.

* The plan loader (``loads_plan``, the reference reader, the lenient reader of
  a broken plan): random YAML documents, random structures and mutations of a
  real plan give a Plan or a ``PlanError`` of one-line problems, never another
  exception.  A plan that loads must also dump and load again.
* The parser's fact extraction (``parse_safely``): generated and mutated Python
  sources (real files of sample_monolith with bytes cut, repeated, replaced and
  inserted) give facts or a one-line reason, never an exception.

Bounded for CI: a fixed number of examples per test, no deadline per example,
no example database written; the whole file takes well under a minute
(about 20 s on the 2-core CI machine).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decompose.planning.plan import Plan, PlanError, lenient_placement
from decompose.planning.planfile import dumps_plan, loads_plan
from decompose.planning.reference import partition_from_mapping

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_monolith"
SOURCES = sorted(p for p in (SAMPLE / "shop").rglob("*.py") if p.stat().st_size > 0)

BOUNDED = settings(
    # DECOMPOSE_FUZZ_EXAMPLES=5000 for a longer hunt; CI keeps the default
    max_examples=int(os.environ.get("DECOMPOSE_FUZZ_EXAMPLES", "100")),
    # CI runs the same examples every time (a failure there is reproducible);
    # a longer hunt (DECOMPOSE_FUZZ_EXAMPLES) explores randomly.
    derandomize="DECOMPOSE_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# --------------------------------------------------------------------------- plans

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["shop.a", "shop.b", "catalog", "Bad Name", "", "1", "shop..x", "-a"])
)
keys = st.text(max_size=8) | st.integers(-3, 3) | st.none() | st.booleans() | st.sampled_from(
    ["modules", "tables", "routes", "interface", "reasons", "services", "shared", "quality", "blockers", "name",
     "method", "path", "function", "used_by", "kind", "signature", "version", "project", "source"]
)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=4), max_leaves=25)

service = st.fixed_dictionaries(
    {},
    optional={
        "modules": values | st.lists(st.sampled_from(["shop.a", "shop.b", "shop.c"]), max_size=3),
        "tables": values,
        "reasons": values,
        "interface": values | st.lists(st.fixed_dictionaries({"name": values}, optional={"used_by": values, "kind": values})),
        "routes": values | st.lists(st.fixed_dictionaries({"method": values, "path": values}, optional={"function": values})),
    },
)
plan_shaped = st.fixed_dictionaries(
    {},
    optional={
        "version": st.just(1) | values,
        "project": st.just("shop") | values,
        "source": st.just(".") | values,
        "services": st.dictionaries(st.sampled_from(["catalog", "orders", "x"]) | keys, service | values, max_size=3) | values,
        "shared": st.fixed_dictionaries({}, optional={"modules": values, "reasons": values}) | values,
        "quality": values,
        "blockers": values,
    },
)


def assert_clean(text: str) -> None:
    """Loading ``text`` gives a Plan that survives a round trip, or a PlanError of one-line problems."""
    try:
        plan = loads_plan(text, "f.yaml")
    except PlanError as exc:
        assert exc.problems and all(isinstance(p, str) and p.startswith("f.yaml") for p in exc.problems)
        assert all("\n" not in p for p in exc.problems), exc.problems
        return
    assert isinstance(plan, Plan)
    again = loads_plan(dumps_plan(plan), "f.yaml")
    assert again.partition() == plan.partition()
    assert again.shared == plan.shared


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@BOUNDED
@given(plan_shaped)
def test_plan_shaped_structures_load_or_give_plan_errors(data):
    assert_clean(dump(data))


@BOUNDED
@given(values)
def test_any_structure_loads_or_gives_plan_errors(data):
    assert_clean(dump(data))
    try:
        partition_from_mapping(data, "r.yaml")
    except PlanError as exc:
        assert all(p.startswith("r.yaml") for p in exc.problems)
    placed, source = lenient_placement(data)
    assert isinstance(placed, dict) and (source is None or isinstance(source, str))


yaml_bits = st.sampled_from(
    ["services:", "\n", "  ", "- ", ": ", "&a ", "*a", "&b [", "*b", "]", "{", "}", "[", ",", "!!str ", "!!binary ",
     "!!python/object:os.system ", "? ", "|", ">", "'", '"', "#", "---", "...", "%YAML 1.1", "modules", "shop.a",
     "\t", "\x00", "\ufeff", "<<: *a", "!!set ", "!!timestamp 2001-12-14", "~", "0x1f", "1e9999", ".nan"]
)


@BOUNDED
@given(st.lists(yaml_bits | st.text(max_size=5), max_size=40).map("".join))
def test_random_yaml_text_loads_or_gives_plan_errors(text):
    assert_clean(text)


def _sample_plan() -> str:
    services = {
        "catalog": {"modules": ["shop.catalog", "shop.catalog.api"], "tables": ["products"],
                    "interface": [{"name": "shop.catalog.api.get", "kind": "function", "signature": "()", "used_by": ["orders"]}],
                    "routes": [{"method": "GET", "path": "/p", "function": "shop.catalog.api.get"}],
                    "reasons": {"shop.catalog.api": "why"}},
        "orders": {"modules": ["shop.orders"], "tables": [], "interface": [], "routes": [], "reasons": {}},
    }
    return dump({"version": 1, "project": "shop", "source": ".", "services": services,
                 "shared": {"modules": ["shop", "shop.utils"]}, "quality": {"q": 0.5}, "blockers": []})


SAMPLE_PLAN = _sample_plan()


def mutate(data: str | bytes, edits):
    for op, pos, length, insert in edits:
        n = len(data)
        i = pos % (n + 1)
        j = min(n, i + length)
        piece = insert if isinstance(data, str) else insert.encode("utf-8", "surrogatepass")
        if op == "cut":
            data = data[:i] + data[j:]
        elif op == "repeat":
            data = data[:j] + data[i:j] * 3 + data[j:]
        elif op == "replace":
            data = data[:i] + piece + data[j:]
        else:
            data = data[:i] + piece + data[i:]
    return data


edits = st.lists(
    st.tuples(
        st.sampled_from(["cut", "repeat", "replace", "insert"]),
        st.integers(0, 1 << 16),
        st.integers(0, 40),
        st.text(max_size=6) | st.sampled_from(["(", ")", "[", ":", "\n    ", "\\", '"""', "lambda", "async ", "@", "*", "\x00"]),
    ),
    min_size=1,
    max_size=6,
)


@BOUNDED
@given(edits)
def test_mutated_real_plans_load_or_give_plan_errors(e):
    assert_clean(mutate(SAMPLE_PLAN, e))


@BOUNDED
@given(st.text(max_size=200))
def test_the_lenient_reader_never_raises_anything_but_plan_errors(text):
    from decompose.planning.planfile import load_yaml

    try:
        data = load_yaml(text, "f.yaml", strict=False)
    except PlanError:
        return
    lenient_placement(data)


# --------------------------------------------------------------------------- sources


def assert_parsed_or_reason(source: bytes, module: str = "shop.fuzzed", path: str = "shop/fuzzed.py", pkg: bool = False):
    from decompose.analysis.parse import parse_safely

    facts, reason = parse_safely(source, module, path, pkg)
    if facts is None:
        assert isinstance(reason, str) and reason and "\n" not in reason, reason
    else:
        assert reason is None and facts.module == module


@BOUNDED
@given(st.sampled_from(SOURCES), edits)
def test_mutated_real_modules_give_facts_or_a_reason(path, e):
    source = mutate(path.read_bytes(), e)
    rel = path.relative_to(SAMPLE).as_posix()
    module = rel[:-3].replace("/", ".").removesuffix(".__init__")
    assert_parsed_or_reason(source, module, rel, path.name == "__init__.py")


python_bits = st.sampled_from(
    ["import os\n", "from . import x\n", "from .. import y as z\n", "import importlib\n",
     "importlib.import_module('a.b')\n", "__import__('q')\n", "def f(a: int = 1) -> str:\n", "    return a\n",
     "class C(Base, metaclass=M):\n", "    x: int = 0\n", "if TYPE_CHECKING:\n", "    import typing\n",
     "@app.route('/x', methods=['GET'])\n", "async def g():\n", "    await h()\n", "global X\n", "X = []\n",
     "__tablename__ = 't'\n", "Table('u', meta)\n", "q = 'SELECT * FROM v'\n", "try:\n", "except E:\n",
     "    pass\n", "with a as b:\n", "lambda: (yield)\n", "match x:\n", "    case 1:\n", "        pass\n",
     "f'{x!r:>{w}}'\n", "x = 1 +\\\n 2\n", "# -*- coding: latin-1 -*-\n", "\xe9\n", "\t", "\r\n", "(", ")", "\x00"]
)


@BOUNDED
@given(st.lists(python_bits | st.text(max_size=4), max_size=30).map("".join), st.booleans())
def test_generated_sources_give_facts_or_a_reason(text, pkg):
    assert_parsed_or_reason(text.encode("utf-8", "surrogatepass"), "shop.gen", "shop/gen/__init__.py" if pkg else "shop/gen.py", pkg)


@BOUNDED
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_facts_or_a_reason(data):
    assert_parsed_or_reason(data)
