"""``make demo``, on top of ``make run``: seed a realistic state over the public APIs
(districts and schools, thousands of educators from an HR file, calibrated assessors, a catalog
of micro-credentials with a stack, a stipend rule with budgets; the state's licensure rules are
the registry's), drive educators through the whole flow with a progress bar, and print what
every service then reports.

    make run            # in one terminal
    make demo           # in another (DEMO_ARGS="--educators 5000 --drive 3000")
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mc_devstack.devinfra.common import dev_run_dir
from mc_devstack.devinfra.supervisor import dev_issuer
from mc_devstack.pipeline.driver import (
    Driver,
    DriverError,
    Journey,
    World,
    WorldSpec,
    mc_spec,
)
from mc_devstack.pipeline.streams import StreamWatcher
from mc_events.kafka import KafkaSettings
from mc_platform.auth import Role

EXTRA_MCS = ("Academic Discourse", "Formative Assessment Checks")


def running_state(run_dir: Path) -> dict[str, Any] | None:
    """The state file of a running ``make run`` (None when none runs)."""
    try:
        state: dict[str, Any] = json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state


async def catalog_with_stack(driver: Driver, world: World) -> str:
    """Two more approved micro-credentials and an approved stack of all three."""
    issuer = driver.headers(Role.ISSUER, issuer_id=world.issuer_id)
    members = [world.mc_id]
    for n, title in enumerate(EXTRA_MCS, start=1):
        r = await driver.call(
            "POST",
            "registry",
            "/micro-credentials",
            headers=issuer,
            json={**mc_spec(title, world.credits), "id": f"mc{n}-{world.tag}"},
        )
        mc_id = str(r.json()["id"])
        base = f"/micro-credentials/{mc_id}/versions/1"
        await driver.call("POST", "registry", f"{base}/submit", headers=issuer)
        await driver.call(
            "POST", "registry", f"{base}/approve", headers=driver.admin, json={"reason": "QA ok"}
        )
        members.append(mc_id)
    r = await driver.call(
        "POST",
        "registry",
        "/stacks",
        headers=issuer,
        json={
            "id": f"questioning-{world.tag}",
            "name": "Questioning and Discourse Pathway",
            "description": "Three micro-credentials on classroom questioning.",
            "member_micro_credential_ids": members,
            "rule": {"kind": "all_of"},
            "grants": [
                {"kind": "designation", "code": "lead-questioning", "name": "Lead Educator"}
            ],
        },
    )
    stack_id = str(r.json()["id"])
    base = f"/stacks/{stack_id}/versions/1"
    await driver.call("POST", "registry", f"{base}/submit", headers=issuer)
    await driver.call(
        "POST", "registry", f"{base}/approve", headers=driver.admin, json={"reason": "QA ok"}
    )
    return stack_id


async def demo(args: argparse.Namespace, state: dict[str, Any], run_dir: Path) -> int:
    console = Console()
    urls = {svc["name"]: svc["url"] for svc in state["services"]}
    infra = state["infra"]
    settings = KafkaSettings(
        bootstrap_servers=infra["kafka_bootstrap"],
        enable_idempotence=infra["kafka_idempotence"],
        fetch_max_wait_ms=50,
    )
    rng = random.Random(args.seed)  # noqa: S311 (a demo's choices, not secrets)
    async with Driver(urls, dev_issuer(run_dir), retry_for=60) as driver:
        started = time.monotonic()
        with console.status("seeding the state ...") as status:
            world = await driver.seed(
                WorldSpec(
                    districts=args.districts,
                    schools_per_district=args.schools,
                    educators=args.educators,
                    assessors=args.assessors,
                    assessor_capacity=500,
                ),
                progress=lambda msg: status.update(msg),
            )
            status.update("registry: catalog with a stack")
            stack_id = await catalog_with_stack(driver, world)
        console.print(
            f"seeded in {time.monotonic() - started:.1f} s: {len(world.districts)} districts, "
            f"{len(world.districts) * args.schools} schools, {len(world.educators)} educators, "
            f"{len(world.assessors)} assessors, 3 micro-credentials and stack {stack_id}"
        )
        async with StreamWatcher(settings) as streams:
            chosen = rng.sample(world.educators, min(args.drive, len(world.educators)))
            journeys = [Journey(e) for e in chosen]
            gate = asyncio.Semaphore(args.concurrency)
            failures: list[str] = []
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("educators through review", total=len(journeys))

                async def one(journey: Journey) -> None:
                    async with gate:
                        try:
                            await driver.earn(
                                world, journey, revision=rng.random() < args.revision_share
                            )
                        except DriverError as exc:
                            failures.append(str(exc))
                    bar.advance(task)

                await asyncio.gather(*(one(j) for j in journeys))
                waiting = bar.add_task("stipends on the payments stream", total=len(journeys))

                def paid(ix: Any) -> bool:
                    count = sum(
                        1
                        for j in journeys
                        if (a := ix.awards.get(j.enrollment_id or ""))
                        and ix.stipends.get(a[0].credential_id)
                    )
                    bar.update(waiting, completed=count)
                    return count >= len(journeys) - len(failures)

                try:
                    await streams.wait_for(paid, 300, "stipends")
                except TimeoutError as exc:
                    console.print(f"[yellow]{exc}[/yellow]")
            elapsed = time.monotonic() - started
            index = streams.index
            outcomes = Counter(
                d.outcome.value
                for j in journeys
                for d in index.decisions.get(j.enrollment_id or "", [])
            )
            awards = [a for j in journeys for a in index.awards.get(j.enrollment_id or "", [])]
            stipends = [s for a in awards for s in index.stipends.get(a.credential_id, [])]
            credits = [p for a in awards for p in index.credit_postings.get(a.credential_id, [])]

        table = Table(title="per district (compensation API)")
        for col in ("district", "net stipends", "pending", "budget remaining"):
            table.add_column(col)
        for district in world.districts:
            reports = [await driver.district_report(district, y) for y in world.fiscal_years]
            sources = [s for r in reports for s in r["funding_sources"]]
            table.add_row(
                district,
                f"${sum(s['net_cents'] for s in sources) / 100:,.2f}",
                f"${sum(s['pending_cents'] for s in sources) / 100:,.2f}",
                f"${sum(s['remaining_cents'] for s in sources) / 100:,.2f}",
            )
        rules = await driver.call(
            "GET", "registry", "/licensure/rules", headers={}, expect=(200, 503)
        )
        measures = (await driver.call("GET", "review", "/measures", headers=driver.admin)).json()
    console.print(table)
    review_table = Table(title="review (review API: /measures)")
    for col in ("micro-credential", "decisions", "pass rate", "mean attempts to pass"):
        review_table.add_column(col)
    for mc in measures["micro_credentials"]:
        rate = mc["pass_rate"]
        attempts = mc["attempts_to_pass"]["mean_attempts"]
        review_table.add_row(
            mc["micro_credential_id"],
            str(mc["decisions"]),
            "-" if rate is None else f"{rate:.0%}",
            "-" if attempts is None else f"{attempts:.2f}",
        )
    console.print(review_table)
    decided = measures["time_to_decision"]
    if decided["decisions"]:
        console.print(
            f"time to decision (submission to decision, {decided['decisions']} decisions): "
            f"mean {decided['mean_seconds']:.1f} s, median {decided['median_seconds']:.1f} s, "
            f"p90 {decided['p90_seconds']:.1f} s"
        )
    console.print(
        f"driven: {len(journeys)} educators in {elapsed:.0f} s; decisions "
        f"{dict(outcomes)}; credentials {len(awards)}; stipends {len(stipends)} "
        f"(${sum(s.amount_cents for s in stipends) / 100:,.2f}); renewal credits posted "
        f"{sum(p.renewal_credits for p in credits)}; failures {len(failures)}"
    )
    if rules.status_code == 200:
        console.print(f"licensure rules: {rules.json()}")
    if awards:
        console.print(f"a credential: {urls['registry']}/credentials/{awards[0].credential_id}")
    console.print(
        "where to look: each service's /metrics (the figures above, live: "
        + ", ".join(f"{urls[name]}/metrics" for name in sorted(urls))
        + "); the Grafana dashboards in deploy/grafana/dashboards/ (business.json: awards, "
        "credits, stipends in dollars, review SLA and pass rates; pipeline-flow.json: events/s, "
        "outbox, lag, dead letters; service-health.json), provisioned by `docker compose up` at "
        "http://localhost:3000; `mc-events pipeline status` for the pipeline in a terminal."
    )
    for failure in failures[:3]:
        console.print(f"[red]{failure}[/red]")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--districts", type=int, default=8)
    parser.add_argument("--schools", type=int, default=6, help="per district")
    parser.add_argument("--educators", type=int, default=3000, help="on the HR roster")
    parser.add_argument("--assessors", type=int, default=24)
    parser.add_argument("--drive", type=int, default=1000, help="educators taken to an award")
    parser.add_argument("--revision-share", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--run-dir", type=Path, help="the make run folder (default .run/dev)")
    args = parser.parse_args(argv)
    run_dir = args.run_dir or Path(os.environ.get("MC_DEV_RUN_DIR") or dev_run_dir())
    state = running_state(run_dir)
    if state is None:
        print(f"no `make run` is running ({run_dir}): start it first, then `make demo`")
        return 1
    return asyncio.run(demo(args, state, run_dir))


if __name__ == "__main__":
    sys.exit(main())
