"""``mc-events district republish`` refuses a district id that cannot name a topic before it
touches the broker, and is listed under ``mc-events district``."""

from __future__ import annotations

from typer.testing import CliRunner

from mc_events.cli import app


def test_district_republish_is_an_operator_command() -> None:
    result = CliRunner().invoke(app, ["district", "--help"])
    assert result.exit_code == 0
    assert "republish" in result.output


def test_an_empty_district_id_is_refused_without_contacting_kafka() -> None:
    # Port 9 (discard) on this host: a command that tried to connect would fail differently.
    result = CliRunner().invoke(app, ["district", "republish", "", "--bootstrap", "127.0.0.1:9"])
    assert result.exit_code == 2
    assert "district id is empty" in result.output
