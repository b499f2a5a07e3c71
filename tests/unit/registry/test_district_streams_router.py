"""The registry registers its fan-out's routing for ``mc-events district republish``: the
installed entry point is the very route and source topics the live fan-out uses (one copy of
the routing), and mc_events finds it without importing the registry itself."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from mc_events import district
from registry.entrypoints import district_fanout


def test_the_installed_district_router_is_the_fan_outs_own_route() -> None:
    router = district.installed_router()
    assert router is district_fanout.ROUTER
    assert router.route is district_fanout.route
    default = inspect.signature(district_fanout.fanout).parameters["source"].default
    assert router.source_topics == tuple(default) == ("registry.credentials",)


def test_mc_events_does_not_import_the_registry_until_the_router_is_asked_for() -> None:
    code = (
        "import sys, mc_events.cli, mc_events.district as d\n"
        "assert not any(m == 'registry' or m.startswith('registry.') for m in sys.modules)\n"
        "d.installed_router()\n"
        "assert 'registry.entrypoints.district_fanout' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_district_id_that_cannot_name_a_topic_names_no_topics() -> None:
    names = district.topic_names("D.1")
    assert names == {"district.D_2e1.awards", "district.D_2e1.awards.state"}
    with pytest.raises(district.InvalidDistrictId):
        district.topic_names("")
