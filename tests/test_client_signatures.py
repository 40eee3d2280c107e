"""Generated client stubs compile and forward every call exactly, for every
parameter shape Python accepts (real apps have ``def f(*args, **kwargs)``,
positional-only parameters followed by keyword-only ones, ...)."""

from __future__ import annotations

import inspect
import itertools

import pytest

from decompose.analysis.facts import Definition, Param
from decompose.generation.generate import client_function

KINDS = ["positional_only", "positional", "var_positional", "keyword_only", "var_keyword"]
SHAPES = list(itertools.product([0, 1, 2], [0, 1, 2], [0, 1], [0, 1, 2], [0, 1]))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "".join(map(str, s)))
def test_stub_compiles_and_replays_the_call(shape):
    params = [Param(f"{kind.replace('_', '')}{j}", kind=kind) for kind, n in zip(KINDS, shape) for j in range(n)]
    cf = client_function(Definition(name="f", kind="function", line=1, end_line=1, params=params))
    ns: dict = {}
    exec(compile(f"def f({cf.params}):\n    return ({cf.args}, {cf.kwargs})\n", "stub", "exec"), ns)
    exec(compile(f"def real({cf.params}):\n    return locals()\n", "real", "exec"), ns)
    args: list = []
    kwargs: dict = {}
    for p in inspect.signature(ns["f"]).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(f"v-{p.name}")
        elif p.kind is p.VAR_POSITIONAL:
            args += ["extra1", "extra2"]
        elif p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = f"v-{p.name}"
        else:
            kwargs["more"] = "m"
    sent_args, sent_kwargs = ns["f"](*args, **kwargs)
    assert ns["real"](*sent_args, **sent_kwargs) == ns["real"](*args, **kwargs)


def test_only_star_args_and_kwargs():
    cf = client_function(Definition(name="f", kind="function", line=1, end_line=1,
                                    params=[Param("args", kind="var_positional"), Param("kw", kind="var_keyword")]))
    assert (cf.params, cf.args, cf.kwargs) == ("*args, **kw", "(*args,)", "{**kw}")
