"""The manager's dashboard over a million events: how long the page and its CSV files take, end to end.

Run with ``python -m bench.dashboard``. It generates ``--events`` events with the KPI
benchmark's generator (``bench/kpis.py``: 90 days, seeded, the same every run), loads them
into a new SQLite file, starts the handoff service in this process (a real redis-server on
a free loopback port, real HTTP), logs in as the demo manager and asks, ``--repeat`` times
each, for the dashboard page, the report's CSV and one breakdown's CSV, over the whole 90
days and over the last 30 days of one channel. The same requests against an empty event log,
in the same run, are the baseline: what the page costs without data (login check, templates,
texts). Each request is made once untimed first. It prints the median and the slowest of each.
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


async def _time(folder: Path, redis_port: int, url: str, repeat: int) -> Dict[str, List[float]]:
    agents = folder / "agents.yml"
    shutil.copy(PROJECT_ROOT / "handoff" / "agents.yml", agents)
    settings = Settings(var_dir=folder / "var", agents_file=agents, manual_assign=True, events_db_url=url,
                        event_log=False).with_ports(redis=redis_port, rasa=free_port(), actions=free_port(),
                                                    smtp=free_port())
    app = create_app(settings, container=Container(settings), name=f"bench_dashboard_{folder.name}")
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
    return out


def _table(full: Dict[str, List[float]], empty: Dict[str, List[float]], events: int) -> str:
    lines = [f"| request | {events:,} events: median s | slowest s | empty log: median s |",
             "|---|---:|---:|---:|"]
    for label, _ in _queries():
        lines.append(f"| {label} | {statistics.median(full[label]):.2f} | {max(full[label]):.2f} | "
                     f"{statistics.median(empty[label]):.3f} |")
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
        (workdir / "full").mkdir()
        (workdir / "empty").mkdir()
        empty = asyncio.run(_time(workdir / "empty", redis.port, empty_url, args.repeat))
        full = asyncio.run(_time(workdir / "full", redis.port, full_url, args.repeat))
        print()
        print(_table(full, empty, args.events))
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
