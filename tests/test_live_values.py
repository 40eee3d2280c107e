"""Module-level values that hold code (a structure referring to the module's own functions
or classes, or a lambda) are live objects: another service borrows their module instead of
fetching them over RPC (they are not JSON), and what they hold keeps its module for pickle.

FlaskBB's ``flaskbb.fixtures.settings.fixture`` holds ``{"choices": available_avatar_types}``;
``create_default_settings`` (another service) stores it in a ``PickleType`` column, which
every reader unpickles by module name: without the module, every page of the forum was a 500.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from decompose.generation.output import generation_for
from decompose.generation.stubs import module_code_values
from decompose.planning.plan import Plan, Service
from decompose.planning.planfile import save_plan
from tests.generate_support import write_tree


def test_values_holding_the_modules_code():
    source = textwrap.dedent('''
        from flaskbb.utils.helpers import get_available_themes as available_themes

        def available_avatar_types():
            return [("image/png", "PNG")]

        class Kind:
            pass

        fixture = (("general", {"settings": (("avatar_types", {"extra": {"choices": available_avatar_types}}),)}),)
        KINDS = [Kind]
        SORT = {"key": lambda row: row[0]}
        PLAIN = {"a": 1, "b": [2, 3]}
        THEMES = {"choices": available_themes}      # an imported function: not known to be code here
        ALIAS = available_avatar_types               # the function itself: a function, not a value
        BUILT = dict(choices=available_avatar_types)  # a call's result
    ''')
    assert module_code_values(source) == {"fixture", "KINDS", "SORT"}
    assert module_code_values("x = (") == frozenset()


FILES = {
    "pyproject.toml": '[project]\nname = "forum"\nversion = "1.0"\nrequires-python = ">=3.11"\ndependencies = ["flask"]\n',
    "forum/__init__.py": "",
    "forum/fixtures/__init__.py": "",
    "forum/fixtures/settings.py": '''
        def available_avatar_types():
            return [("image/png", "PNG")]

        fixture = {"avatar_types": {"value": "image/png", "extra": {"choices": available_avatar_types}}}
        DEFAULTS = {"per_page": 10}
    ''',
    "forum/populate.py": '''
        from forum.fixtures.settings import DEFAULTS, fixture


        def create_default_settings():
            return {k: v["value"] for k, v in fixture.items()}, DEFAULTS
    ''',
}


def test_a_value_holding_code_borrows_its_module(tmp_path: Path):
    root = write_tree(tmp_path / "mono", FILES)
    plan = Plan(project="forum", source=str(root), shared=["forum"], services={
        "fixtures": Service(name="fixtures", modules=["forum.fixtures", "forum.fixtures.settings"]),
        "populate": Service(name="populate", modules=["forum.populate"]),
    })
    save_plan(plan, tmp_path / "decompose.yaml")
    gen, *_ = generation_for(tmp_path / "decompose.yaml", use_cache=False)
    spec = gen.services["populate"]
    assert "forum.fixtures.settings" in spec.copied
    assert spec.borrowed["forum.fixtures.settings"].startswith("forum.populate uses fixture")
    client = spec.clients["forum.fixtures.settings"]
    assert client.reexports == ["fixture"]          # the borrowed module's own value
    assert client.objects == ["DEFAULTS"]           # plain data (a mutable dict): still fetched from its owner


def test_another_name_of_a_class_is_the_class_not_remote_state():
    assert module_code_values("class Registry:\n    pass\n\n\nEventRegistry = Registry\nOld = EventRegistry\n"
                              "COUNT = 3\nother = some_import\n") == {"EventRegistry", "Old"}


#: pretix's shape: pretix/base/signals.py keeps ``EventPluginRegistry = PluginAwareRegistry`` for
#: backwards compatibility, and pretix/base/invoicing/transmission.py (another service) subclasses it.
REGISTRY = {
    "shop/__init__.py": "",
    "shop/signals.py": '''\
        class PluginAwareRegistry:
            def __init__(self, keys):
                self.keys = keys

        EventPluginRegistry = PluginAwareRegistry  # for backwards compatibility
        ''',
    "shop/transmission.py": '''\
        from shop.signals import EventPluginRegistry


        class TransmissionProviderRegistry(EventPluginRegistry):
            pass


        registry = TransmissionProviderRegistry({"type": None})
        ''',
}


def test_a_class_alias_another_service_subclasses_borrows_its_module(tmp_path: Path):
    root = write_tree(tmp_path / "mono", REGISTRY)
    plan = Plan(project="shop", source=str(root), shared=["shop"], services={
        "base": Service(name="base", modules=["shop.signals"]),
        "invoicing": Service(name="invoicing", modules=["shop.transmission"]),
    })
    save_plan(plan, tmp_path / "decompose.yaml")
    gen, *_ = generation_for(tmp_path / "decompose.yaml", use_cache=False)
    spec = gen.services["invoicing"]
    assert "shop.signals" in spec.copied
    client = spec.clients["shop.signals"]
    assert client.reexports == ["EventPluginRegistry"] and client.objects == []


def test_calls_made_while_a_module_is_imported():
    from decompose.generation.stubs import import_time_calls
    source = textwrap.dedent('''
        import pycountry
        from shop.countries import pycountry_add, later
        pycountry_add(pycountry.subdivisions, code="IT-AO")

        class Settings:
            DEFAULTS = build_defaults()

            def method(self):
                return later()

        def view():
            return later()

        if __name__ == "__main__":
            main()
    ''')
    assert import_time_calls(source) == {"pycountry_add", "build_defaults"}


#: pretix's shape: pretix/base/settings.py patches pycountry's tables at import with
#: pretix.helpers.countries.pycountry_add (another service): an HTTP call there sent
#: pycountry.subdivisions (not JSON) before the service could start.
COUNTRIES = {
    "shop/__init__.py": "",
    "shop/countries.py": '''\
        def pycountry_add(db, **kw):
            db.add_entry(**kw)


        def country_name(code):
            return code.upper()
        ''',
    "shop/settings.py": '''\
        import pycountry

        from shop.countries import country_name, pycountry_add

        pycountry_add(pycountry.subdivisions, code="IT-AO", country_code="IT")


        def label(code):
            return country_name(code)
        ''',
}


def test_a_function_called_at_import_runs_in_the_importing_service(tmp_path: Path):
    root = write_tree(tmp_path / "mono", COUNTRIES)
    plan = Plan(project="shop", source=str(root), shared=["shop"], services={
        "helpers": Service(name="helpers", modules=["shop.countries"]),
        "base": Service(name="base", modules=["shop.settings"]),
    })
    save_plan(plan, tmp_path / "decompose.yaml")
    gen, *_ = generation_for(tmp_path / "decompose.yaml", use_cache=False)
    spec = gen.services["base"]
    assert "shop.countries" in spec.copied
    client = spec.clients["shop.countries"]
    assert client.reexports == ["pycountry_add"]                   # the borrowed module's own function
    assert [f.name for f in client.functions] == ["country_name"]  # called in a view: still over HTTP


#: pretix's shape: pretix/base/timeframes.py keeps REPORTING_DATE_TIMEFRAMES, a module-level table of
#: (label, start, end, describe) whose describe is pretix.helpers.daterange.daterange (another service)
#: or a lambda calling it; pretix/control/forms/filter.py builds a form field from that table in a class
#: body, so daterange ran at import time, as an HTTP call before its service was up.
TIMEFRAMES = {
    "shop/__init__.py": "",
    "shop/daterange.py": '''\
        def daterange(df, dt):
            return f"{df} - {dt}"


        def weekday(d):
            return d
        ''',
    "shop/timeframes.py": '''\
        from shop.daterange import daterange, weekday

        TIMEFRAMES = (
            ("week", daterange),
            ("days", lambda a, b: "from " + daterange(a, b)),
        )


        def label(d):
            return weekday(d)
        ''',
}


def test_a_function_kept_in_a_modules_table_of_code_runs_in_the_importing_service(tmp_path: Path):
    root = write_tree(tmp_path / "mono", TIMEFRAMES)
    plan = Plan(project="shop", source=str(root), shared=["shop"], services={
        "helpers": Service(name="helpers", modules=["shop.daterange"]),
        "reports": Service(name="reports", modules=["shop.timeframes"]),
    })
    save_plan(plan, tmp_path / "decompose.yaml")
    gen, *_ = generation_for(tmp_path / "decompose.yaml", use_cache=False)
    spec = gen.services["reports"]
    assert "shop.daterange" in spec.copied
    client = spec.clients["shop.daterange"]
    assert client.reexports == ["daterange"]
    assert [f.name for f in client.functions] == ["weekday"]
