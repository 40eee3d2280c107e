"""[tool.decompose.plan]: string form kept, table form validated with one-line errors."""

from __future__ import annotations

import pytest

from decompose.config import ConfigError, config_from_mapping


def test_string_form_still_names_the_plan_file():
    c = config_from_mapping({"plan": "plans/decompose.yaml"}, "pyproject.toml")
    assert c.plan == "plans/decompose.yaml" and c.plan_options.pin == {}


def test_table_form():
    c = config_from_mapping(
        {
            "plan": {
                "file": "d.yaml",
                "services": 5,
                "seed": 9,
                "method": "greedy",
                "weights": {"evolution": 0, "dynamic": 2},
                "shared": ["shop.utils*"],
                "auto_shared": False,
                "together": [["a", "b"]],
                "pin": {"shop.x*": "xs"},
            }
        },
        "pyproject.toml",
    )
    o = c.plan_options
    assert c.plan == "d.yaml"
    assert (o.services, o.seed, o.method, o.auto_shared) == (5, 9, "greedy", False)
    assert o.weights == {"evolution": 0.0, "dynamic": 2.0} and o.pin == {"shop.x*": "xs"}
    assert o.together == [["a", "b"]] and o.shared == ["shop.utils*"]


@pytest.mark.parametrize(
    "table, message",
    [
        ({"colour": 1}, "tool.decompose.plan: unknown key 'colour'"),
        ({"services": 0}, "tool.decompose.plan.services must be >= 1"),
        ({"services": True}, "tool.decompose.plan.services must be an integer"),
        ({"method": "kmeans"}, "method must be 'louvain' or 'greedy'"),
        ({"weights": {"static": -1}}, "weights.static must be a number >= 0"),
        ({"weights": {"vibes": 1}}, "unknown signal 'vibes'"),
        ({"together": [[]]}, "together must be a list of non-empty lists"),
        ({"pin": {"a": 1}}, "pin must map module globs to service names"),
    ],
)
def test_bad_tables(table, message):
    with pytest.raises(ConfigError) as exc:
        config_from_mapping({"plan": table}, "pyproject.toml")
    assert message in str(exc.value) and str(exc.value).startswith("pyproject.toml:")


def test_plan_must_be_string_or_table():
    with pytest.raises(ConfigError, match="tool.decompose.plan must be a string or table"):
        config_from_mapping({"plan": 3}, "pyproject.toml")
