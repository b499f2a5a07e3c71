"""The service-layer contract lint: entrypoints never commit, the service layer and the domain
never speak HTTP. Each rule fails on the code it forbids and passes the code it asks for."""

from __future__ import annotations

from pathlib import Path

from mc_devstack.service_lint import check, check_source, main

ROUTE = Path("svc/src/svc/entrypoints/api/things.py")
SERVICE = Path("svc/src/svc/service_layer/things.py")
DOMAIN = Path("svc/src/svc/domain/things.py")


def test_a_route_that_commits_is_named_with_its_line():
    source = "async def create(uow):\n    async with uow:\n        await uow.commit()\n"
    (finding,) = check_source(ROUTE, source)
    assert (finding.path, finding.line) == (ROUTE, 3)
    assert ".commit()" in finding.message


def test_a_route_that_rolls_back_is_named_too():
    assert len(check_source(ROUTE, "async def f(s):\n    await s.rollback()\n")) == 1


def test_a_service_layer_command_may_commit():
    assert check_source(SERVICE, "async def create(uow):\n    await uow.commit()\n") == []


def test_the_service_layer_and_the_domain_may_not_import_http():
    for path in (SERVICE, DOMAIN):
        (finding,) = check_source(path, "from fastapi import HTTPException\n")
        assert "mc_platform.refusals" in finding.message
    assert check_source(SERVICE, "import starlette.status\n")


def test_a_route_may_import_http_and_other_modules_are_not_checked():
    assert check_source(ROUTE, "from fastapi import APIRouter\n") == []
    assert check_source(Path("svc/src/svc/bootstrap.py"), "x.commit()\n") == []


def test_the_command_fails_on_a_breach_and_passes_clean_code(tmp_path, capsys):
    route = tmp_path / "svc" / "entrypoints" / "api.py"
    route.parent.mkdir(parents=True)
    route.write_text("async def f(uow):\n    return await commands.create(uow)\n")
    assert main([str(tmp_path)]) == 0
    route.write_text("async def f(uow):\n    await uow.commit()\n")
    assert main([str(tmp_path)]) == 1
    assert f"{route}:2:" in capsys.readouterr().out
    assert check([tmp_path]) != []
    assert main([str(tmp_path / "nowhere")]) == 2
