"""The manager's dashboard over a million events: how long the page and its CSV files take, end to end.

Run with ``python -m bench.dashboard``. It generates ``--events`` events with the KPI
benchmark's generator (``bench/kpis.py``: 90 days, seeded, the same every run), loads them
into a new SQLite file, starts the handoff service in this process (a real redis-server on
a free loopback port, real HTTP), logs in as the demo manager and asks, ``--repeat`` times
each, for the dashboard page, the report's CSV and one breakdown's CSV, over the whole 90
days and over the last 30 days of one channel. The same requests against an empty event log,
in the same run, are the baseline: what the page costs without data (login check, templates,
texts); and the million events are read once with one query thread (the report and the
breakdowns one after the other) and once with the dashboard's two. Nothing is kept between
requests there (every request reads the database); a last row times the report's CSV asked
right after its page, with the answers kept for a minute as the service keeps them. Each
request is made once untimed first. It prints the median and the slowest of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import httpx
from sqlalchemy import create_engine

from analytics.tables import metadata
from bench.kpis import DAYS, START, Generator, load_sqlite
from bench.turns import machine
from console.app import create_app
from console.context import state
from console.dashboard import KpiReader
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from tests.helpers.redis_server import start_redis
from tests.helpers.sanic_server import serving
from wiring.container import Container

MANAGER, PASSWORD = "miriam", "kesher-demo"  # the demo manager of handoff/agents.yml (a DEMO DEFAULT)


def _queries() -> List[Tuple[str, str]]:
    end = START + timedelta(days=DAYS)
    whole = f"period=custom&from={START:%Y-%m-%d}&to={end - timedelta(days=1):%Y-%m-%d}"
    last30 = f"period=custom&from={end - timedelta(days=30):%Y-%m-%d}&to={end - timedelta(days=1):%Y-%m-%d}"
    return [
        ("page, 90 days", f"/console/dashboard?{whole}"),
        ("page, last 30 days, whatsapp", f"/console/dashboard?{last30}&channel=whatsapp"),
        ("report CSV, 90 days", f"/console/dashboard/report.csv?{whole}"),
        ("breakdown CSV by agent, 90 days", f"/console/dashboard/breakdown.csv?by=agent&{whole}"),
    ]


async def _login(client: httpx.AsyncClient) -> None:
    form = await client.get("/console/login")
    marker = 'name="csrf_token" value="'
    start = form.text.index(marker) + len(marker)
    token = form.text[start:form.text.index('"', start)]
    response = await client.post("/console/login", data={"agent_id": MANAGER, "password": PASSWORD,
                                                          "csrf_token": token})
    assert response.status_code == 303, response.text


async def _time(folder: Path, redis_port: int, url: str, repeat: int, threads: int) -> Dict[str, List[float]]:
    agents = folder / "agents.yml"
    shutil.copy(PROJECT_ROOT / "handoff" / "agents.yml", agents)
    settings = Settings(var_dir=folder / "var", agents_file=agents, manual_assign=True, events_db_url=url,
                        event_log=False).with_ports(redis=redis_port, rasa=free_port(), actions=free_port(),
                                                    smtp=free_port())
    app = create_app(settings, container=Container(settings), name=f"bench_dashboard_{folder.name}")
    # nothing kept between requests: every request reads the database
    app.ctx.kpi_reader = KpiReader(state(app).events_engine, threads=threads, keep_seconds=0)
    out: Dict[str, List[float]] = {}
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=600) as client:
        await _login(client)
        for label, path in _queries():
            await client.get(path)  # warm-up: templates compiled, connections open
            for _ in range(repeat):
                began = time.perf_counter()
                response = await client.get(path)
                out.setdefault(label, []).append(time.perf_counter() - began)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
        # what a manager does: the page, then its CSV, with the answers kept for a minute as the service does
        app.ctx.kpi_reader.close()
        app.ctx.kpi_reader = KpiReader(state(app).events_engine, threads=threads)
        page, csv_path = _queries()[0][1], _queries()[2][1]
        await client.get(page)
        began = time.perf_counter()
        assert (await client.get(csv_path)).status_code == 200
        out["report CSV right after its page (answers kept)"] = [time.perf_counter() - began]
    return out


def _table(runs: Dict[str, Dict[str, List[float]]], events: int) -> str:
    names = list(runs)
    lines = ["| request | " + " | ".join(f"{name}: median s (slowest)" for name in names) + " |",
             "|---|" + "---:|" * len(names)]
    for label in runs[names[0]]:
        cells = [f"{statistics.median(runs[n][label]):.2f} ({max(runs[n][label]):.2f})" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)

    print(f"machine: {machine()}; load average at the start: {os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp(prefix="kesher-bench-dashboard-"))
    (workdir / "redis").mkdir()
    redis = start_redis(workdir / "redis")
    try:
        began = time.perf_counter()
        rows = list(Generator(args.seed).events(args.events))
        print(f"generated {len(rows):,} events in {time.perf_counter() - began:.1f} s", flush=True)
        full_url = f"sqlite:///{workdir / 'events.db'}"
        engine = create_engine(full_url)
        print(f"SQLite: loaded in {load_sqlite(engine, rows):.1f} s", flush=True)
        engine.dispose()
        del rows
        empty_url = f"sqlite:///{workdir / 'empty.db'}"
        empty_engine = create_engine(empty_url)
        metadata.create_all(empty_engine)
        empty_engine.dispose()
        runs: Dict[str, Dict[str, List[float]]] = {}
        for name, url, threads in (("empty log, 2 threads", empty_url, 2),
                                   (f"{args.events:,} events, 1 thread", full_url, 1),
                                   (f"{args.events:,} events, 2 threads", full_url, 2)):
            folder = workdir / f"run{len(runs)}"
            folder.mkdir()
            runs[name] = asyncio.run(_time(folder, redis.port, url, args.repeat, threads))
            print(f"{name}: done", flush=True)
        print()
        print(_table(runs, args.events))
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
