"""Turn benchmark: simulated customers over Rasa's REST channel, Kesher vs a vanilla bot.

Run with ``make bench`` (or ``python -m bench.turns``). In one invocation it:

1. trains this project's model from scratch into a temporary folder and times it;
2. creates a vanilla ``rasa init`` bot in a temporary folder and times its training;
3. runs each bot (Kesher with redis-server and its action server, exactly as
   ``make up`` does; the vanilla bot as ``rasa init`` leaves it: in-memory
   tracker, no action server) on free loopback ports;
   plus the vanilla bot again on Redis tracker and lock stores, to separate
   the cost of persistence from the cost of Kesher's own work;
4. sends scripted conversations from 1, 10 and 50 concurrent customers and
   records every turn's latency;
5. prints p50/p95/p99 latency, turns per second and the servers' memory (RSS),
   and writes the same tables to ``bench/out/turns-<date>.md``.

Both bots are measured on the same machine in the same run, so the ratio
between them survives a noisy machine better than either absolute figure.
"""

from __future__ import annotations

import argparse
import asyncio
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
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import aiohttp
from sqlalchemy import text

from core.processes import free_port, venv_bin
from core.settings import PROJECT_ROOT, Settings
from kesher.cli import seed
from kesher.supervisor import Supervisor
from wiring.container import Container

OUT_DIR = PROJECT_ROOT / "bench" / "out"
LEVELS = (1, 10, 50)


@dataclass
class Result:
    """The latencies measured for one bot at one concurrency."""

    bot: str
    concurrency: int
    latencies_ms: List[float]
    seconds: float
    errors: int

    def row(self) -> str:
        """One Markdown table row."""
        lat = sorted(self.latencies_ms)
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
        return (
            f"| {self.bot} | {self.concurrency} | {len(lat)} | {q[49]:.0f} | {q[94]:.0f} | {q[98]:.0f} | "
            f"{len(lat) / self.seconds:.1f} | {self.errors} |"
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


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def _wait_http(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def kesher_script(order_id: str, email: str) -> List[str]:
    """A realistic mix: greeting, FAQ, knowledge base, verified order status, thanks."""
    return [
        "hi there",
        "how long does delivery take?",
        "how do I descale my coffee machine",
        "where is my order?",
        order_id,
        email,
        "שלום, אפשר לשלם בביט?",
        "thanks, bye",
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


def run_vanilla(
    model: Path, folder: Path, turns: int, label: str, redis_port: Optional[int] = None
) -> tuple[List[Result], float]:
    """Runs the vanilla bot; with ``redis_port``, on Redis tracker and lock stores like Kesher."""
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
        _wait_http(f"http://127.0.0.1:{port}/status")
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        results = [asyncio.run(load(url, VANILLA_SCRIPT, c, turns, label)) for c in LEVELS]
        return results, rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_kesher(model: Path, var_dir: Path, turns: int) -> tuple[List[Result], Dict[str, float]]:
    settings = without_limits(Settings(var_dir=var_dir)).with_ports(
        redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(), smtp=free_port(),
        models=free_port())
    seed(settings)
    engine = Container(settings).orders.engine
    with engine.connect() as conn:
        order_id, email = conn.execute(
            text("SELECT order_id, email FROM orders WHERE status='shipped' ORDER BY order_id LIMIT 1")
        ).one()
    engine.dispose()
    with Supervisor(settings, model=model) as supervisor:
        script = kesher_script(order_id, email)
        results = [asyncio.run(load(rest_url(settings), script, c, turns, "kesher", rest_headers(settings)))
                   for c in LEVELS]
        memory = {p.name: rss_mb(p.process.pid) for p in supervisor.parts if p.process}
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=800, help="turns per concurrency level (about)")
    parser.add_argument("--work", type=Path, help="keep the trained bots here (default: a temporary folder)")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="kesher-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print("Training Kesher from scratch...", flush=True)
        kesher_model, kesher_train = train_kesher(work / "models")
        print("Creating and training a vanilla `rasa init` bot...", flush=True)
        shutil.rmtree(work / "vanilla", ignore_errors=True)
        vanilla_model, vanilla_train = train_vanilla(work / "vanilla")
        print("Load test: vanilla bot...", flush=True)
        vanilla_results, vanilla_rss = run_vanilla(vanilla_model, work / "vanilla", args.turns, "vanilla rasa init")
        print("Load test: vanilla bot on Redis tracker and lock stores...", flush=True)
        redis_settings = Settings(var_dir=work / "redis").with_ports(redis=free_port(), rasa=0, actions=0)
        with Supervisor(redis_settings, parts=("redis",)):
            redis_results, _ = run_vanilla(
                vanilla_model, work / "vanilla", args.turns, "vanilla + Redis stores", redis_settings.redis_port
            )
        print("Load test: Kesher...", flush=True)
        kesher_results, kesher_rss = run_kesher(kesher_model, work / "var", args.turns)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}",
        "",
        "| bot | concurrent customers | turns | p50 ms | p95 ms | p99 ms | turns/s | errors |",
        "|---|---|---|---|---|---|---|---|",
        *[r.row() for trio in zip(vanilla_results, redis_results, kesher_results, strict=True) for r in trio],
        "",
        "| bot | training from scratch (s) | server RSS after the load (MB) |",
        "|---|---|---|",
        f"| vanilla rasa init | {vanilla_train:.0f} | rasa {vanilla_rss:.0f} |",
        f"| kesher | {kesher_train:.0f} | " + ", ".join(f"{k} {v:.0f}" for k, v in kesher_rss.items()) + " |",
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
