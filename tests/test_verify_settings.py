"""The app's settings object, changed by the suite in its own process, is what the services read
under ``decompose verify`` (issue 10).

LNbits configures its app through one pydantic settings object (``lnbits.settings.settings``):
its conftest sets fields before every test (``first_install``, ``auth_allowed_methods``...) and
its tests change more.  The services had their own copy, built at their start, so 100 of
LNbits' tests answered 403 or 401 on the split system.  Now the plugin sends the fields the
suite changed (against the object as it was once the suite was collected) before each request;
the services take them on, validated as the fields' types, and take back their own values of
the fields the suite restored.  And the other way: a field a service's own request changed (an
admin route saving the site title) is set on the test process's object before the test reads
it (LNbits' ``test_admin_update_settings``, ``first_install``), and stays sent from then on, so
the services follow the suite's restore.  Checked on tests/data/verify_settings, a FastAPI monolith
whose two services read and change the settings in routes and in an RPC between them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.test_verify import check, cli, rows, verify_json

FIXTURE = Path(__file__).resolve().parent / "data" / "verify_settings"
PLAN = """\
version: 1
project: setapp
source: setapp
services:
  accounts:
    modules: [setapp.accounts]
  news:
    modules: [setapp.news]
shared:
  modules: [setapp, setapp.settings, setapp.app]
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("pydantic_settings")
    work = tmp_path_factory.mktemp("verify-settings")
    shutil.copytree(FIXTURE, work / "setapp", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "plan.yaml").write_text(PLAN)
    check(cli("generate", "--plan", work / "plan.yaml", "--output", work / "out"))
    return work / "out", work / "setapp"


def test_settings_the_suite_changes_in_its_process_are_what_the_services_read(generated):
    out, app = generated
    report = verify_json(out, app / "tests", "--local")
    by_id = rows(report)
    assert report["monolith"]["counts"] == {"passed": 8}
    assert report["split"]["counts"] == {"passed": 8}, report
    for tid, row in by_id.items():
        assert (row["monolith"], row["split"], row["verdict"]) == ("passed", "passed", "same"), row
    assert report["regressions"] == []
    # what the last request of the suite ran with: the enum list the last test set, as JSON
    written = json.loads((Path(report["verify_dir"]) / "app-settings.json").read_text())
    # motd, once a service changed it, is sent with the suite's value (restored by its fixture)
    assert written == {"setapp.settings:settings": {"methods": ["password", "token"], "motd": "hello"}}
    # what each service's requests changed: news did, in a route and in the RPC accounts sent it
    folder = Path(report["verify_dir"])
    assert sorted(p.name for p in folder.glob("app-settings.from-*.json")) == ["app-settings.from-news.json"]
    assert json.loads((folder / "app-settings.from-news.json").read_text()) == {
        "setapp.settings:settings": {"motd": "via rpc"}}
