"""KPI queries over a million events: each query's time on SQLite and on PostgreSQL (goal: under 1 s).

Run with ``python -m bench.kpis`` (``make bench-kpis``). It generates ``--events`` realistic events
(default 1,000,000; seeded, so every run has the same ones) over 90 days: customers on two channels
in two languages who come back now and then, contacts of one to six turns (some fall back, some are
handed off), handoffs that wait in the queue, are abandoned or taken by one of three agents in two
teams, answered, closed and rated, bot-only contacts rated now and then, e-mails and notices. It loads
them into a new SQLite file (executemany in batches of 20,000) and into a throw-away PostgreSQL
cluster (Debian's, on a free loopback port; COPY), runs ``ANALYZE`` on both, then runs every query of
``analytics.kpis.QUERIES`` ``--repeat`` times on each database, for the whole 90 days and for the last
30 days of one channel, and prints the median and the slowest run of each, then the whole
``kpi_report`` and ``kpi_breakdown``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import String, create_engine, text
from sqlalchemy.engine import Engine

from analytics.kpis import BREAKDOWNS, QUERIES, KpiFilter, kpi_breakdown, kpi_report
from analytics.tables import metadata, service_events
from bench.turns import machine
from tests.helpers.postgres import start_postgres

DAYS = 90
START = datetime(2026, 8, 1)
CHANNELS = ("web", "whatsapp")
LANGUAGES = ("he", "en")
AGENTS = (("dana", "orders"), ("omer", "orders"), ("sarah", "billing"))
TOPICS = ("order_status", "shipping_time", "returns", "refund", "payment", "cancel_order", "store_hours",
          "warranty", "sizes", "gift_cards", "delivery_address", "invoice", "coupon", "account", "stock")
REASONS = ("asked_for_human", "repeated_fallback", "topic_policy", "angry", "order_problem")
QUESTIONS = [f"{w} {n}" for w in ("where is my parcel number", "can i pay with", "my item broke after",
                                   "do you ship to", "why was i charged", "how do i change my order",
                                   "is there a discount for", "i need an invoice for", "the app crashes on",
                                   "can i pick up from") for n in range(20)]
COLUMNS = [c.name for c in service_events.columns if c.name != "id"]


class Generator:
    """Events of seeded random contacts, in time order per contact."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = 0
        self.customers = [(f"{self.rng.choice(CHANNELS)}:{i}", self.rng.choice(LANGUAGES)) for i in range(60_000)]

    def _row(self, kind: str, conv: str, contact: str, at: datetime, channel: str, language: str,
             **fields: Any) -> Dict[str, Any]:
        self.n += 1
        row: Dict[str, Any] = {"event_id": f"{self.n}-0", "at": at, "kind": kind, "conversation": conv,
                               "contact": contact, "channel": channel, "language": language, "intent": "",
                               "confidence": None, "outcome": "", "reason": "", "topic": "", "agent": "",
                               "team": "", "value": None, "text": ""}
        row.update(fields)
        return row

    def _question(self) -> str:
        q = self.rng.choice(QUESTIONS[: self.rng.choice((20, 200))])  # a few questions are asked far more often
        if self.rng.random() < 0.3:
            q = q.upper() if self.rng.random() < 0.5 else q.replace(" ", "  ", 1)
        return q

    def contact(self) -> List[Dict[str, Any]]:
        """One contact's events: its turns, maybe a handoff and its aftermath, maybe a rating."""
        rng = self.rng
        conv, language = self.customers[int(rng.paretovariate(1.2) * 997) % len(self.customers)]
        channel = conv.split(":")[0]
        # Busier during the day: a uniform day, then an hour drawn from a daytime-heavy spread.
        at = START + timedelta(days=rng.randrange(DAYS), hours=min(23.99, max(0.0, rng.gauss(13, 4))))
        contact = f"{conv}@{int(at.timestamp())}"
        rows = []

        def add(kind: str, **fields: Any) -> None:
            rows.append(self._row(kind, conv, contact, at, channel, language, **fields))

        topic = rng.choice(TOPICS)
        handoff = rng.random() < 0.18
        turns = rng.randint(1, 6)
        for i in range(turns):
            at += timedelta(seconds=rng.uniform(5, 90))
            if handoff and i == turns - 1:
                add("turn", intent="human_handoff", confidence=0.9, outcome="handed_off", topic=topic,
                    text=self._question(), value=rng.uniform(40, 200))
            elif rng.random() < 0.1:
                add("turn", intent="nlu_fallback", confidence=rng.uniform(0.1, 0.5), outcome="fell_back",
                    text=self._question(), value=rng.uniform(40, 200))
            else:
                add("turn", intent=f"faq/{topic}", confidence=rng.uniform(0.6, 1), outcome="answered", topic=topic,
                    value=rng.uniform(40, 200))
        if handoff:
            add("handoff_queued", reason=rng.choice(REASONS), topic=topic, text=self._question())
            wait = rng.lognormvariate(4, 1)
            at += timedelta(seconds=wait)
            if rng.random() < 0.1:
                add("abandoned", value=wait)
                return rows
            agent, team = rng.choice(AGENTS)
            add("handoff_assigned", agent=agent, team=team, value=wait)
            assigned = at
            for j in range(rng.randint(2, 6)):
                at += timedelta(seconds=rng.lognormvariate(3.5, 0.8))
                add("agent_message", agent=agent, reason="first" if j == 0 else "",
                    value=(at - assigned).total_seconds() if j == 0 else None)
                if rng.random() < 0.05:
                    add("agent_action", agent=agent, reason="store_credit", value=50.0)
            at += timedelta(seconds=30)
            add("closed", agent=agent, team=team, reason="solved", value=(at - assigned).total_seconds())
            add("email_sent", reason="handoff_summary")
            add("csat_asked", reason="agent")
            if rng.random() < 0.7:
                at += timedelta(seconds=20)
                add("csat", reason="agent", agent=agent, team=team, value=float(rng.choice((1, 2, 3, 4, 4, 5, 5, 5))))
            add("returned_to_bot", reason="csat_done")
        elif rng.random() < 0.2:
            add("csat_asked", reason="bot")
            if rng.random() < 0.4:
                at += timedelta(seconds=15)
                add("csat", reason="bot", value=float(rng.choice((1, 3, 4, 5, 5))))
        if rng.random() < 0.02:
            add("notice_sent", reason="order_shipped")
        return rows

    def events(self, total: int) -> Iterator[Dict[str, Any]]:
        """``total`` events, contact after contact (the last one cut short)."""
        made = 0
        while made < total:
            for row in self.contact():
                if made == total:
                    return
                made += 1
                yield row


def batches(rows: Iterator[Dict[str, Any]], size: int) -> Iterator[List[Dict[str, Any]]]:
    batch: List[Dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_sqlite(engine: Engine, rows: List[Dict[str, Any]]) -> float:
    began = time.perf_counter()
    metadata.create_all(engine)
    with engine.begin() as conn:
        for batch in batches(iter(rows), 20_000):
            conn.execute(service_events.insert(), batch)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - began


def _csv_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


def load_postgres(engine: Engine, rows: List[Dict[str, Any]]) -> float:
    began = time.perf_counter()
    metadata.create_all(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        strings = [c.name for c in service_events.columns if c.name in COLUMNS and isinstance(c.type, String)]
        copy = (f"COPY service_events ({', '.join(COLUMNS)}) FROM STDIN "
                f"WITH (FORMAT csv, FORCE_NOT_NULL ({', '.join(strings)}))")
        for batch in batches(iter(rows), 100_000):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in batch:
                writer.writerow([_csv_value(row[c]) for c in COLUMNS])
            buffer.seek(0)
            # An empty field is NULL in COPY's CSV except in the FORCE_NOT_NULL (string) columns.
            cursor.copy_expert(copy, buffer)
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE service_events"))
    return time.perf_counter() - began


def _backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend has used (we run the server on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Timing = Tuple[float, float, Optional[float]]  # median wall, max wall, median CPU (None: not measured)


def time_queries(engine: Engine, flt: KpiFilter, repeat: int) -> Dict[str, Timing]:
    """Each query of QUERIES, then the whole report and breakdowns: wall time and the database's CPU time.

    The CPU time is this process's for SQLite and the server backend's for PostgreSQL: on a machine others
    load, it is what the query itself cost.
    """
    out: Dict[str, Timing] = {}
    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar() if engine.dialect.name != "sqlite" else None

        def cpu() -> float:
            return _backend_cpu(int(backend)) if backend is not None else time.process_time()

        for name, query in QUERIES.items():
            walls, cpus = [], []
            for _ in range(repeat):
                began, began_cpu = time.perf_counter(), cpu()
                query(conn, flt)
                walls.append(time.perf_counter() - began)
                cpus.append(cpu() - began_cpu)
            out[name] = (statistics.median(walls), max(walls), statistics.median(cpus))
    wholes: List[Tuple[str, Callable[[], Any]]] = [("kpi_report (all of the above but breakdowns)",
                                                    lambda: kpi_report(engine, flt))]
    wholes += [(f"kpi_breakdown by {by}", functools.partial(kpi_breakdown, engine, flt, by)) for by in BREAKDOWNS]
    for name, whole in wholes:
        walls = []
        for _ in range(repeat):
            began = time.perf_counter()
            whole()
            walls.append(time.perf_counter() - began)
        out[name] = (statistics.median(walls), max(walls), None)
    return out


def table(periods: Sequence[Tuple[str, Dict[str, Dict[str, Timing]]]], repeat: int) -> str:
    lines = [f"| query | period | SQLite median of {repeat} (s) | max (s) | CPU (s) | PostgreSQL median (s) "
             "| max (s) | server CPU (s) |", "|---|---|---|---|---|---|---|---|"]

    def cpu(value: Optional[float]) -> str:
        return "" if value is None else f"{value:.3f}"

    for label, results in periods:
        for name in results["sqlite"]:
            s, p = results["sqlite"][name], results["postgresql"][name]
            lines.append(f"| {name} | {label} | {s[0]:.3f} | {s[1]:.3f} | {cpu(s[2])} "
                         f"| {p[0]:.3f} | {p[1]:.3f} | {cpu(p[2])} |")
    return "\n".join(lines)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)

    began = time.perf_counter()
    rows = list(Generator(args.seed).events(args.events))
    kinds: Dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    print(f"machine: {machine()}; load average at the start: {os.getloadavg()[0]:.1f}")
    print(f"generated {len(rows):,} events in {time.perf_counter() - began:.1f} s: "
          + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])), flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="kesher-bench-kpis-"))
    sqlite = create_engine(f"sqlite:///{workdir / 'events.db'}")
    server = start_postgres()
    try:
        postgres = create_engine(server.create_database("events"))
        print(f"SQLite: loaded in {load_sqlite(sqlite, rows):.1f} s", flush=True)
        print(f"PostgreSQL: loaded in {load_postgres(postgres, rows):.1f} s", flush=True)
        end = START + timedelta(days=DAYS)
        periods = [("90 days, all", KpiFilter(START, end)),
                   ("last 30 days, whatsapp", KpiFilter(end - timedelta(days=30), end, channel="whatsapp"))]
        results = []
        for label, flt in periods:
            per_db = {"sqlite": time_queries(sqlite, flt, args.repeat),
                      "postgresql": time_queries(postgres, flt, args.repeat)}
            results.append((label, per_db))
            print(f"{label}: done", flush=True)
        print()
        print(table(results, args.repeat))
        report = kpi_report(sqlite, periods[0][1])
        same = _rounded(report) == _rounded(kpi_report(postgres, periods[0][1]))
        print(f"\nkpi_report equal on SQLite and PostgreSQL (90 days): {same}")
        print("containment {containment[rate]:.3f}, handoff {handoff_rate[rate]:.3f}, fallback "
              "{fallback_rate[rate]:.3f}, fcr {fcr[rate]:.3f}, csat {csat[avg]:.2f} ({csat[count]})".format(**report))
        for db in ("sqlite", "postgresql"):
            wall = max(per_db[db][n][0] for _, per_db in results for n in QUERIES)
            cpu_time = max(per_db[db][n][2] or 0.0 for _, per_db in results for n in QUERIES)
            print(f"{db}: slowest KPI query, median wall {wall:.3f} s, median CPU {cpu_time:.3f} s (goal: under 1 s)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    finally:
        postgres_engine = locals().get("postgres")
        if postgres_engine is not None:
            postgres_engine.dispose()
        server.remove()
        sqlite.dispose()
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
