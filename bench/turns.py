"""Turn benchmark: simulated customers over Rasa's REST channel, Kesher vs a vanilla bot.

Run with ``make bench`` (or ``python -m bench.turns``). In one invocation it:

1. trains this project's model from scratch into a temporary folder and times it
   (``--kesher-model`` serves a given model instead);
2. creates a vanilla ``rasa init`` bot in a temporary folder and times its training;
3. runs each bot (Kesher exactly as ``make up`` does: every part the supervisor
   starts; the vanilla bot as ``rasa init`` leaves it: in-memory tracker, no
   action server) on free loopback ports; with ``--vanilla-redis`` also the
   vanilla bot on Redis tracker and lock stores;
4. at 1, 10 and 50 concurrent customers, for three kinds of conversation:

   - **12 turns**: fresh conversations of 12 messages;
   - **200 turns**: each conversation is first given 192 earlier messages of
     the same session (a recorded 12-turn conversation of the same bot,
     repeated, through Rasa's ``PUT /conversations/<id>/tracker/events``), then
     12 more are measured;
   - **returning**: each conversation is first given 30 earlier sessions, one a
     day over the last 30 days (the recorded conversation each time), then 12
     messages are measured (the first one starts a new session);

   and records every measured turn's latency;
5. prints p50/p95/p99 latency, turns per second, Kesher's p95 against the
   vanilla bot's in the same row, and after the load the RSS of every process
   the supervisor started and their sum (also their PSS, and what Redis holds:
   its memory, the conversations' event lists, bytes per event); writes the
   same tables to ``bench/out/turns-<date>.md``. ``--no-vanilla`` runs Kesher
   alone (to compare two branches' memory after the same load). ``--same-words`` gives
   Kesher the vanilla bot's four messages instead of its own 12 (the same words for both). ``--replicas 1 2``
   runs Kesher once with each number of replicas behind the balancer
   (``KESHER_REPLICAS``) under the same load, and adds their turns/s ratio and
   p99/p95 to the report, and for every run the CPU each part used per turn and how many of
   the machine's cores were busy (the stack's, and everything's): whether a second replica has
   idle cores to use at all. ``--event-log-off`` also runs
   Kesher a second time, the same way, with ``KESHER_EVENT_LOG=off`` and prints what the event
   log (a turn's ``XADD`` in the tracker store's save, the handoff service's mover writing the
   SQL table) costs per turn, from the two runs' latencies.

Both bots are measured on the same machine in the same run, so the ratio
between them survives a noisy machine better than either absolute figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import quote

import aiohttp
import redis
from sqlalchemy import text

from connectors.rest import KesherRestChannel
from core.processes import free_port, venv_bin
from core.rasa_api import api_headers
from core.redis_keys import TrackerKeys
from core.settings import PROJECT_ROOT, Settings
from handoff.identity import conversation_id
from kesher.cli import seed
from kesher.supervisor import Supervisor
from wiring.container import Container

OUT_DIR = PROJECT_ROOT / "bench" / "out"
MEMORY_NOTES: List[str] = []
LEVELS = (1, 10, 50)


@dataclass
class Result:
    """The latencies measured for one bot at one concurrency."""

    bot: str
    concurrency: int
    latencies_ms: List[float]
    seconds: float
    errors: int
    kind: str = ""
    cpu_seconds: Dict[str, float] = field(default_factory=dict)  # CPU used during the run, by part (and "load")
    machine_busy: float = 0.0  # cores busy during the run, every process of the machine counted

    def _quantiles(self) -> List[float]:
        lat = sorted(self.latencies_ms) or [float("nan")]
        return statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99

    @property
    def p95(self) -> float:
        """95th percentile latency, ms."""
        return self._quantiles()[94]

    @property
    def turns_per_second(self) -> float:
        """Measured turns per second of wall time."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        """One Markdown table row (led by the kind of conversation when there is one)."""
        q = self._quantiles()
        kind = f"| {self.kind} " if self.kind else ""
        return (
            f"{kind}| {self.bot} | {self.concurrency} | {len(self.latencies_ms)} | {q[49]:.0f} | {q[94]:.0f} | "
            f"{q[98]:.0f} | {self.turns_per_second:.1f} | {self.errors} |"
        )


def _env() -> Dict[str, str]:
    return Settings.from_env().child_env()


def _timed(command: Sequence[str], cwd: Path) -> float:
    print(f"$ {' '.join(command)}", flush=True)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def train_kesher(out: Path) -> tuple[Path, float]:
    """Trains this project from scratch (no cache) and returns the model and seconds."""
    seconds = _timed(
        [venv_bin("rasa"), "train", "--domain", "domain", "--data", "data", "--config", "config.yml",
         "--out", str(out), "--force", "--fixed-model-name", "kesher"],
        PROJECT_ROOT,
    )
    return out / "kesher.tar.gz", seconds


def train_vanilla(folder: Path) -> tuple[Path, float]:
    """``rasa init --no-prompt`` (which trains) in a fresh folder."""
    folder.mkdir(parents=True)
    seconds = _timed([venv_bin("rasa"), "init", "--no-prompt", "--init-dir", str(folder)], folder.parent)
    model = sorted((folder / "models").glob("*.tar.gz"))[-1]
    return model, seconds


def _tree(pid: int) -> List[int]:
    """A process and its direct children (a Redis save's fork, a server's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid] + ([int(p) for p in children.read_text().split()] if children.exists() else [])


def _descendants(pid: int) -> List[int]:
    """A process and every process below it (``rasa run``'s and nginx's workers)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children") if Path(f"/proc/{p}/task").exists() else []:
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and every process below it."""
    total = 0
    for p in _descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot, summed over cores (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS, sum(values[:8]) / CLOCK_TICKS


def _smaps_mb(pid: int, field: str) -> float:
    """``field`` (``Rss`` or ``Pss``) of a process and its children, from ``smaps_rollup``, in MB."""
    total = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    return _smaps_mb(pid, "Rss")


def pss_mb(pid: int) -> float:
    """Proportional set size of a process and its children (shared pages split between sharers), in MB."""
    return _smaps_mb(pid, "Pss")


def redis_usage(settings: Settings) -> str:
    """What Redis holds: its memory, and the conversations' event lists (count, events, bytes per event)."""
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port,
                         password=settings.redis_password or None, db=settings.redis_db)
    info = client.info("memory")
    lists = events = list_bytes = 0
    for key in client.scan_iter(match=TrackerKeys(settings.tracker_key_prefix).events_pattern(), count=500):
        lists += 1
        events += int(client.llen(key))
        list_bytes += int(client.memory_usage(key, samples=0) or 0)
    client.close()
    per_event = list_bytes / events if events else 0.0
    mb = 2**20
    return (f"Redis: used_memory {info['used_memory'] / mb:.0f} MB (dataset {info['used_memory_dataset'] / mb:.0f}"
            f" MB), RSS {info['used_memory_rss'] / 2**20:.0f} MB; {lists} conversations' event lists, {events} "
            f"events, {list_bytes / 2**20:.0f} MB ({per_event:.0f} bytes per event, "
            f"{list_bytes / lists / 1024 if lists else 0:.0f} KB per conversation)")


def _wait_http(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def stack_settings(var_dir: Path, **fields: Any) -> Settings:
    """Settings for a benchmark's Kesher in ``var_dir``: every part on a free loopback port, abuse limits off."""
    return without_limits(Settings(var_dir=var_dir, **fields)).with_ports(
        redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(), smtp=free_port(),
        models=free_port())


def shipped_order(settings: Settings) -> tuple[str, str]:
    """A seeded shipped order's number and e-mail: what :func:`kesher_script`'s order-status turns send."""
    engine = Container(settings).orders.engine
    with engine.connect() as conn:
        order_id, email = conn.execute(
            text("SELECT order_id, email FROM orders WHERE status='shipped' ORDER BY order_id LIMIT 1")
        ).one()
    engine.dispose()
    return str(order_id), str(email)


def kesher_script(order_id: str, email: str) -> List[str]:
    """A realistic 12-message mix: greeting, FAQs, knowledge base, verified order status, Hebrew, thanks."""
    return [
        "hi there",
        "how long does delivery take?",
        "how do I descale my coffee machine",
        "where is my order?",
        order_id,
        email,
        "שלום, אפשר לשלם בביט?",
        "can I pay with paypal",
        "what time does customer service close on friday",
        "are you a bot?",
        "thanks a lot, that's helpful",
        "bye for now",
    ]


VANILLA_SCRIPT = ["hello", "I am feeling great", "are you a bot?", "goodbye"]


async def _customer(session: aiohttp.ClientSession, url: str, script: Sequence[str], rounds: int,
                    latencies: List[float], errors: List[int]) -> None:
    for _ in range(rounds):
        sender = uuid.uuid4().hex
        for message in script:
            start = time.perf_counter()
            try:
                async with session.post(url, json={"sender": sender, "message": message}) as response:
                    await response.read()
                    if response.status != 200:
                        errors.append(response.status)
                        continue
            except aiohttp.ClientError:
                errors.append(0)
                continue
            latencies.append((time.perf_counter() - start) * 1000)


def rest_url(settings: Settings) -> str:
    """Kesher's REST channel (``connectors/rest.py``): Rasa's REST shape behind a token."""
    return f"http://127.0.0.1:{settings.rasa_port}/webhooks/kesher_rest/webhook"


def rest_headers(settings: Settings) -> Dict[str, str]:
    """The REST channel's ``Authorization`` header."""
    return {"Authorization": f"Bearer {settings.rest_token}"}


def without_limits(settings: Settings) -> Settings:
    """The settings with the abuse limits off: every benchmark customer writes from loopback, many at once."""
    return settings.replace(limit_sessions_per_source="0/60", limit_messages_per_source="0/60",
                            limit_messages_per_sender="0/60")


async def load(url: str, script: Sequence[str], concurrency: int, turns: int, bot: str,
               headers: Optional[Dict[str, str]] = None) -> Result:
    """``concurrency`` customers running ``script`` over a REST-shaped channel at ``url`` (``headers`` sent)."""
    rounds = max(1, turns // (concurrency * len(script)))
    latencies: List[float] = []
    errors: List[int] = []
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0),
                                     headers=headers or {}) as session:
        # One warm-up conversation so first-request costs are not counted.
        await _customer(session, url, script, 1, [], [])
        start = time.perf_counter()
        await asyncio.gather(*(
            _customer(session, url, script, rounds, latencies, errors) for _ in range(concurrency)
        ))
        seconds = time.perf_counter() - start
    return Result(bot, concurrency, latencies, seconds, len(errors))


KINDS = ("12 turns", "200 turns", "returning")
SELECTED: Dict[str, Sequence[Any]] = {"kinds": KINDS, "levels": LEVELS, "same_words": ()}
LIVE_TURNS = 12
SEEDED_TURNS = 192
RETURNING_DAYS = 30
DAY = 24 * 3600.0


@dataclass
class Bot:
    """A running bot: where its REST channel and HTTP API are, and its own 12-message script."""

    name: str
    rest_url: str
    rest_headers: Dict[str, str]
    api_url: str
    api_headers: Callable[[], Dict[str, str]]
    script: Sequence[str]
    conversation_id: Callable[[str], str] = str
    processes: Callable[[], Dict[str, List[int]]] = dict  # part kind → pids, for the CPU each part uses


def _cpu_by_part(bot: Bot) -> Dict[str, float]:
    """CPU seconds used so far by each kind of part of ``bot`` (replicas summed) and by this load generator."""
    used = {kind: sum(cpu_seconds(pid) for pid in pids) for kind, pids in bot.processes().items()}
    used["load"] = time.process_time()
    return used


def _cycle(script: Sequence[str], n: int) -> List[str]:
    return [script[i % len(script)] for i in range(n)]


async def _send(session: aiohttp.ClientSession, bot: Bot, sender: str, message: str) -> Optional[float]:
    start = time.perf_counter()
    try:
        async with session.post(bot.rest_url, json={"sender": sender, "message": message},
                                headers=bot.rest_headers) as response:
            await response.read()
            if response.status != 200:
                return None
    except aiohttp.ClientError:
        return None
    return (time.perf_counter() - start) * 1000


async def record_template(bot: Bot) -> List[Dict[str, Any]]:
    """One live 12-message conversation of ``bot``, as its events (what earlier conversations are made of)."""
    sender = f"template-{uuid.uuid4().hex}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        for message in _cycle(bot.script, LIVE_TURNS):
            if await _send(session, bot, sender, message) is None:
                raise RuntimeError(f"{bot.name} failed a turn while recording the template")
        async with session.get(f"{bot.api_url}/conversations/{quote(bot.conversation_id(sender), safe='')}/tracker",
                               params={"include_events": "ALL"}, headers=bot.api_headers()) as response:
            response.raise_for_status()
            tracker = await response.json()
    events: List[Dict[str, Any]] = tracker["events"]
    return events


def _split_template(events: List[Dict[str, Any]]) -> tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The session's start (up to the first ``action_listen``) and its turns."""
    for i, event in enumerate(events):
        if event.get("event") == "action" and event.get("name") == "action_listen":
            return events[:i + 1], events[i + 1:]
    return [], events


def _stamped(events: Sequence[Dict[str, Any]], start: float, step: float) -> List[Dict[str, Any]]:
    return [{**event, "timestamp": start + i * step} for i, event in enumerate(events)]


def seeded_history(template: List[Dict[str, Any]], kind: str, now: float) -> List[Dict[str, Any]]:
    """The earlier events a conversation of ``kind`` starts with (none for fresh conversations)."""
    head, turns = _split_template(template)
    if kind == "200 turns":
        repeats = SEEDED_TURNS // LIVE_TURNS
        events = head + turns * repeats
        return _stamped(events, now - 0.2 * len(events) - 60, 0.2)  # one session, the last message a minute ago
    if kind == "returning":
        history: List[Dict[str, Any]] = []
        for day in range(RETURNING_DAYS, 0, -1):
            history += _stamped(head + turns, now - day * DAY, 1.0)
        return history
    return []


def _pieces(events: List[Dict[str, Any]], most_bytes: int = 400_000) -> List[List[Dict[str, Any]]]:
    pieces: List[List[Dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        length = len(json.dumps(event))
        if pieces[-1] and size + length > most_bytes:
            pieces.append([])
            size = 0
        pieces[-1].append(event)
        size += length
    return pieces


async def seed_conversations(bot: Bot, senders: Sequence[str], history: List[Dict[str, Any]]) -> None:
    """Gives each conversation ``history`` through Rasa's API, a few at a time, before anything is timed."""
    if not history:
        return
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        gate = asyncio.Semaphore(4)

        async def one(sender: str) -> None:
            url = f"{bot.api_url}/conversations/{quote(bot.conversation_id(sender), safe='')}/tracker/events"
            async with gate:
                # In pieces under the servers' body limit: the first replaces the tracker, the rest are appended.
                for i, piece in enumerate(_pieces(history)):
                    send = session.put if i == 0 else session.post
                    async with send(url, json=piece, headers=bot.api_headers()) as response:
                        await response.read()
                        response.raise_for_status()

        await asyncio.gather(*(one(sender) for sender in senders))


async def run_kind(bot: Bot, kind: str, concurrency: int, turns: int,
                   template: List[Dict[str, Any]]) -> Result:
    """``concurrency`` customers, each holding conversations of ``kind`` one after the other."""
    per_customer = max(1, turns // (concurrency * LIVE_TURNS))
    senders = [[f"{kind[:3].strip()}-{uuid.uuid4().hex}" for _ in range(per_customer)] for _ in range(concurrency)]
    await seed_conversations(bot, [s for group in senders for s in group], seeded_history(template, kind, time.time()))
    script = _cycle(bot.script, LIVE_TURNS)
    latencies: List[float] = []
    errors: List[int] = []

    async def customer(session: aiohttp.ClientSession, mine: Sequence[str]) -> None:
        for sender in mine:
            for message in script:
                took = await _send(session, bot, sender, message)
                if took is None:
                    errors.append(1)
                else:
                    latencies.append(took)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300),
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        cpu_before, (busy_before, _) = _cpu_by_part(bot), machine_cpu()
        started = time.perf_counter()
        await asyncio.gather(*(customer(session, mine) for mine in senders))
        seconds = time.perf_counter() - started
        cpu_after, (busy_after, _) = _cpu_by_part(bot), machine_cpu()
    used = {kind: cpu_after[kind] - cpu_before.get(kind, 0.0) for kind in cpu_after}
    return Result(bot.name, concurrency, latencies, seconds, len(errors), kind, used,
                  (busy_after - busy_before) / seconds if seconds else 0.0)


async def run_all(bot: Bot, turns: int, kinds: Sequence[str] = KINDS,
                  levels: Sequence[int] = LEVELS) -> List[Result]:
    """Every kind at every level, after one unmeasured warm-up conversation and the template's recording."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        warm = f"warm-{uuid.uuid4().hex}"
        for message in _cycle(bot.script, LIVE_TURNS):
            await _send(session, bot, warm, message)
    template = await record_template(bot)
    results = []
    for kind in kinds:
        for concurrency in levels:
            print(f"  {bot.name}: {kind}, {concurrency} customers...", flush=True)
            results.append(await run_kind(bot, kind, concurrency, turns, template))
            print("    " + results[-1].row(), flush=True)
    return results


def vanilla_bot(port: int, name: str, pid: int = 0) -> Bot:
    base = f"http://127.0.0.1:{port}"
    return Bot(name, f"{base}/webhooks/rest/webhook", {}, base, dict, _cycle(VANILLA_SCRIPT, LIVE_TURNS),
               processes=lambda: {"rasa": [pid]} if pid else {})


def run_vanilla(
    model: Path, folder: Path, turns: int, label: str, redis_port: Optional[int] = None
) -> tuple[List[Result], float]:
    """Runs the vanilla bot; with ``redis_port``, on Redis tracker and lock stores."""
    port = free_port()
    command = [venv_bin("rasa"), "run", "--model", str(model), "--port", str(port),
               "--interface", "127.0.0.1", "--enable-api"]
    if redis_port is not None:
        endpoints = folder / "endpoints-redis.yml"
        endpoints.write_text(
            f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: {redis_port}\n  key_prefix: vanilla\n"
            f"lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {redis_port}\n  key_prefix: vanilla\n",
            encoding="utf-8",
        )
        command += ["--endpoints", str(endpoints)]
    proc = subprocess.Popen(command, cwd=folder, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/status", timeout=900)  # a busy machine loads a model slowly
        results = asyncio.run(run_all(vanilla_bot(port, label, proc.pid), turns, SELECTED["kinds"],
                                      SELECTED["levels"]))
        return results, rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def event_log_usage(settings: Settings, measured: int, since: datetime) -> str:
    """How many turns of this run the event log's table holds (after waiting for the mover to drain the stream)."""
    client = redis.Redis(port=settings.redis_port, password=settings.redis_password or None, db=settings.redis_db)
    key = Container(settings).keys.service_events()
    deadline = time.monotonic() + 120
    while client.xlen(key) and time.monotonic() < deadline:
        time.sleep(0.5)
    backlog = int(client.xlen(key))
    client.close()
    engine = Container(settings).events_engine
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM service_events WHERE kind = 'turn' AND at >= :since"),
                                  {"since": since}).scalar_one()
    finally:
        engine.dispose()
    return (f"Event log after the load: {stored} turn rows in {settings.events_db_url.split(':')[0]} "
            f"(every message sent, warm-up, recorded template and measured {measured} turns), {backlog} events "
            "still in the stream")


def _part_pids(supervisor: Supervisor) -> Dict[str, List[int]]:
    """The supervisor's running parts by kind (``rasa-2`` counts as ``rasa``)."""
    found: Dict[str, List[int]] = {}
    for part in supervisor.parts:
        if part.process and part.process.poll() is None:
            kind = part.name.rsplit("-", 1)[0] if part.name.rsplit("-", 1)[-1].isdigit() else part.name
            found.setdefault(kind, []).append(part.process.pid)
    return found


def run_kesher(model: Path, var_dir: Path, turns: int, replicas: int = 1, *, event_log: bool = True,
               name: str = "") -> tuple[List[Result], Dict[str, float]]:
    """Runs Kesher as ``make up`` does (every part the supervisor starts), then measures each part's RSS.

    With ``replicas`` > 1, ``rasa run``, the action server and the handoff service run that many times behind
    the nginx balancer (``KESHER_REPLICAS``), which the load goes through.
    """
    started = datetime.now(UTC).replace(tzinfo=None)  # the event log stores naive UTC
    # From nothing: with --work kept between runs, Redis would load the conversations of every earlier run and
    # the memory measured after the load would count them.
    shutil.rmtree(var_dir, ignore_errors=True)
    settings = stack_settings(var_dir, event_log=event_log).replace(replicas=replicas)
    seed(settings)
    order_id, email = shipped_order(settings)
    with Supervisor(settings, model=model) as supervisor:
        name = name or ("kesher" if replicas == 1 else f"kesher ×{replicas}")
        bot = Bot(name, rest_url(settings), rest_headers(settings), settings.rasa_url,
                  lambda: api_headers(settings.rasa_api_token, username="bench"),
                  _cycle(VANILLA_SCRIPT, LIVE_TURNS) if SELECTED["same_words"] else kesher_script(order_id, email),
                  lambda sender: conversation_id(KesherRestChannel.name(), sender),
                  lambda: _part_pids(supervisor))
        results = asyncio.run(run_all(bot, turns, SELECTED["kinds"], SELECTED["levels"]))
        memory = {p.name: rss_mb(p.process.pid) for p in supervisor.parts if p.process}
        pss = {p.name: pss_mb(p.process.pid) for p in supervisor.parts if p.process}
        MEMORY_NOTES.append(f"{name} PSS after the load (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in pss.items())
                            + f"; sum {sum(pss.values()):.0f}")
        MEMORY_NOTES.append(redis_usage(settings))
        if event_log:
            MEMORY_NOTES.append(event_log_usage(settings, sum(len(r.latencies_ms) for r in results), started))
    return results, memory


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB RAM, {system}"


def event_log_rows(on: List[Result], off: List[Result]) -> List[str]:
    """The event log's cost per turn: Kesher with it on minus Kesher with it off, per kind and level."""
    rows = []
    for a, b in zip(on, off, strict=True):
        qa, qb = a._quantiles(), b._quantiles()
        rows.append(f"| {a.kind} | {a.concurrency} | {qa[49]:.1f} | {qb[49]:.1f} | {qa[49] - qb[49]:+.1f} | "
                    f"{qa[94]:.1f} | {qb[94]:.1f} | {qa[94] - qb[94]:+.1f} | "
                    f"{statistics.fmean(a.latencies_ms) - statistics.fmean(b.latencies_ms):+.1f} |")
    return rows


def ratio_rows(kesher: List[Result], vanilla: List[Result]) -> List[str]:
    """Kesher's p95 over the vanilla bot's, per kind and level (goal: at most 1.1)."""
    rows = []
    for k, v in zip(kesher, vanilla, strict=True):
        rows.append(f"| {k.kind} | {k.concurrency} | {k.p95:.0f} | {v.p95:.0f} | {k.p95 / v.p95:.2f} | "
                    f"{k.turns_per_second / v.turns_per_second:.2f} |")
    return rows


def replica_rows(runs: Sequence[tuple[int, List[Result], Dict[str, float]]]) -> List[str]:
    """More replicas against the first run, under the same load (#15's goals: ≥ 1.9× turns/s, p99 ≤ 2× p95)."""
    if len(runs) < 2:
        return []
    first, base, _ = runs[0]
    rows = ["", f"| conversation | concurrent customers | replicas | turns/s vs {first} replica(s) | p99 / p95 |",
            "|---|---|---|---|---|"]
    for replicas, results, _ in runs[1:]:
        for mine, theirs in zip(results, base, strict=True):
            q = mine._quantiles()
            rows.append(f"| {mine.kind} | {mine.concurrency} | {replicas} | "
                        f"{mine.turns_per_second / theirs.turns_per_second:.2f} | {q[98] / q[94]:.2f} |")
    return rows


def cpu_rows(groups: Sequence[Sequence[Result]]) -> List[str]:
    """Where the CPU went: each part's CPU ms per measured turn, the cores the stack used, the machine's busy cores.

    ``ceiling`` is the machine's cores divided by the stack's (and load generator's) CPU seconds per turn: the most
    turns/s this machine could give this bot if nothing else ran, however many replicas.
    """
    kinds = sorted({k for group in groups for r in group for k in r.cpu_seconds if k != "load"})
    cores = os.cpu_count() or 1
    rows = ["", f"Where the CPU went ({cores} cores; ms of CPU per measured turn, by part):", "",
            "| conversation | bot | concurrent customers | turns/s | " + " | ".join(kinds)
            + " | load generator | sum | stack cores busy | machine cores busy | ceiling turns/s |",
            "|---|---|---|---|" + "---|" * len(kinds) + "---|---|---|---|---|"]
    for group in zip(*groups, strict=True):
        for r in group:
            turns = len(r.latencies_ms)
            if not turns or not r.cpu_seconds:
                continue
            total = sum(r.cpu_seconds.values())
            per = [f"{r.cpu_seconds[k] * 1000 / turns:.1f}" if k in r.cpu_seconds else "" for k in kinds]
            rows.append(f"| {r.kind} | {r.bot} | {r.concurrency} | {r.turns_per_second:.1f} | " + " | ".join(per)
                        + f" | {r.cpu_seconds.get('load', 0.0) * 1000 / turns:.1f} | {total * 1000 / turns:.1f} | "
                        f"{total / r.seconds:.2f} | {r.machine_busy:.2f} | {cores * turns / total:.0f} |")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=600,
                        help="measured turns per kind and concurrency level (about; at least one conversation "
                             "per customer)")
    parser.add_argument("--work", type=Path, help="keep the trained bots here (default: a temporary folder)")
    parser.add_argument("--kesher-model", type=Path, help="serve this Kesher model instead of training one")
    parser.add_argument("--reuse-vanilla", action="store_true",
                        help="serve the vanilla bot already trained in --work instead of training it again")
    parser.add_argument("--vanilla-redis", action="store_true",
                        help="also run the vanilla bot on Redis tracker and lock stores")
    parser.add_argument("--same-words", action="store_true",
                        help="Kesher's customers send the vanilla bot's four messages too, instead of Kesher's own "
                             "12 (greeting, FAQs, help centre, a verified order status...): the same words for both")
    parser.add_argument("--no-vanilla", action="store_true",
                        help="run only Kesher (e.g. to compare its memory between two branches)")
    parser.add_argument("--event-log-off", action="store_true",
                        help="also run Kesher with KESHER_EVENT_LOG=off and print the event log's cost per turn")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="kinds of conversation")
    parser.add_argument("--levels", nargs="+", type=int, default=list(LEVELS), help="concurrent customers")
    parser.add_argument("--replicas", nargs="+", type=int, default=[1],
                        help="run Kesher once per number given, with that many replicas of rasa run, the action "
                             "server and the handoff service behind the balancer (e.g. 1 2: the same load on "
                             "each, one after the other)")
    args = parser.parse_args(argv)
    SELECTED.update(kinds=args.kinds, levels=args.levels, same_words=(True,) if args.same_words else ())

    work = args.work or Path(tempfile.mkdtemp(prefix="kesher-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    redis_results: List[Result] = []
    kesher_train: Optional[float] = None
    try:
        if args.kesher_model:
            kesher_model = args.kesher_model
        else:
            print("Training Kesher from scratch...", flush=True)
            kesher_model, kesher_train = train_kesher(work / "models")
        trained_vanilla = sorted((work / "vanilla" / "models").glob("*.tar.gz"))
        vanilla_train: Optional[float] = None
        vanilla_results: List[Result] = []
        vanilla_rss = 0.0
        if args.no_vanilla:
            pass
        elif args.reuse_vanilla and trained_vanilla:
            vanilla_model = trained_vanilla[-1]
        else:
            print("Creating and training a vanilla `rasa init` bot...", flush=True)
            shutil.rmtree(work / "vanilla", ignore_errors=True)
            vanilla_model, vanilla_train = train_vanilla(work / "vanilla")
        if not args.no_vanilla:
            print("Load test: vanilla bot...", flush=True)
            vanilla_results, vanilla_rss = run_vanilla(vanilla_model, work / "vanilla", args.turns,
                                                       "vanilla rasa init")
        if args.vanilla_redis and not args.no_vanilla:
            print("Load test: vanilla bot on Redis tracker and lock stores...", flush=True)
            redis_settings = Settings(var_dir=work / "redis").with_ports(redis=free_port(), rasa=0, actions=0)
            with Supervisor(redis_settings, parts=("redis",)):
                redis_results, _ = run_vanilla(
                    vanilla_model, work / "vanilla", args.turns, "vanilla + Redis stores", redis_settings.redis_port
                )
        kesher_runs = []
        for replicas in args.replicas:
            print(f"Load test: Kesher, {replicas} replica(s)...", flush=True)
            kesher_runs.append((replicas, *run_kesher(kesher_model, work / f"var-{replicas}", args.turns, replicas)))
        kesher_results = kesher_runs[0][1]
        off_results: List[Result] = []
        if args.event_log_off:
            print("Load test: Kesher with the event log off...", flush=True)
            off_results, _ = run_kesher(kesher_model, work / "var-off", args.turns, event_log=False,
                                        name="kesher, event log off")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    groups = [*([vanilla_results] if vanilla_results else []), *([redis_results] if redis_results else []),
              *(results for _, results, _ in kesher_runs), *([off_results] if off_results else [])]
    trained = f"{kesher_train:.0f}" if kesher_train is not None else "(given model)"
    vanilla_trained = f"{vanilla_train:.0f}" if vanilla_train is not None else "(trained earlier)"
    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}",
        "",
        "| conversation | bot | concurrent customers | turns | p50 ms | p95 ms | p99 ms | turns/s | errors |",
        "|---|---|---|---|---|---|---|---|---|",
        *[r.row() for rows in zip(*groups, strict=True) for r in rows],
        *([
            "",
            "| conversation | concurrent customers | kesher p95 ms | vanilla p95 ms | p95 ratio (goal ≤ 1.1) "
            "| turns/s ratio |",
            "|---|---|---|---|---|---|",
            *ratio_rows(kesher_results, vanilla_results),
        ] if vanilla_results else []),
        *([
            "",
            "The event log's cost per turn (same run; on minus off, ms):",
            "",
            "| conversation | concurrent customers | p50 on | p50 off | p50 cost | p95 on | p95 off | p95 cost "
            "| mean cost |",
            "|---|---|---|---|---|---|---|---|---|",
            *event_log_rows(kesher_results, off_results),
        ] if off_results else []),
        "",
        "| bot | training from scratch (s) | RSS after the load (MB) | sum (MB) |",
        "|---|---|---|---|",
        *([f"| vanilla rasa init | {vanilla_trained} | rasa {vanilla_rss:.0f} | {vanilla_rss:.0f} |"]
          if vanilla_results else []),
        *(f"| kesher ×{replicas} | {trained} | " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items())
          + f" | {sum(rss.values()):.0f} |" for replicas, _, rss in kesher_runs),
        *replica_rows(kesher_runs),
        *cpu_rows(groups),
        "",
        *MEMORY_NOTES,
    ]
    report = "\n".join(lines)
    print("\n" + report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"turns-{date.today().isoformat()}.md"
    out.write_text(report + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
