"""Swap benchmark: what customers notice while ``rasa run`` switches to a newly published model.

Run with ``make bench-swap`` (or ``python -m bench.swap``). In one invocation,
for each way of loading a pulled model (``KESHER_MODEL_SWAP``):

- **rasa**: Rasa 3.6's own pull, which loads the model inside the event loop
  (the baseline);
- **thread**: Kesher's (``bot/model_swap.py``): the model loads in a worker
  thread and the agent switches to it in one step;

it starts the whole stack as ``make up`` does (``rasa run`` asks the model
server for a new model every 2 s), lets customers chat without pause (each a
conversation of "hello", an FAQ, a help-centre question, "thanks", in English
and Hebrew, over the REST channel), and publishes a model several times:
the served model and a copy of it under another id, alternately, so every
publish is a real swap with the same loading work. Each publish waits until
``/status`` reports the new model. Nothing else runs meanwhile (no training),
so the windows compare the swap with steady traffic:

- **before**: turns started in the 20 s before each publish (the first one
  after 15 s of warm-up);
- **during**: turns started from the publish until 5 s after ``/status``
  reported the new model (the pull, the download, the load, the first turns on
  the new model);
- **after**: turns started from then on, for 15 s.

It prints p50/p95/p99/max and failed turns per window and way, with the
ratio p95 during / p95 before, and writes them to ``bench/out/swap-<date>.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import requests

from bench.turns import OUT_DIR, machine, rest_headers, rest_url, without_limits
from core.processes import free_port, latest_model
from core.settings import Settings
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor
from writers.model_server import publish, relabelled
from writers.ship import model_id, wait_until_live

CUSTOMERS = 5
SWAPS = 4
WARM_UP_SECONDS = 15.0
BEFORE_SECONDS = 20.0
AFTER_LIVE_SECONDS = 5.0
AFTER_SECONDS = 15.0
SCRIPT = ["hello", "how long does shipping take?", "how do I descale my espresso machine?", "thanks",
          "שלום", "כמה זמן לוקח משלוח?", "תודה"]


@dataclass
class Load:
    """Customers chatting throughout: (start time, latency ms or None for a failed turn)."""

    url: str
    headers: Dict[str, str]
    turns: List[Tuple[float, Optional[float]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def customer(self, number: int) -> None:
        """One customer's conversations, turn after turn, until stopped (runs in a thread)."""
        session = requests.Session()
        session.headers.update(self.headers)
        conversation = 0
        while not self.stop.is_set():
            conversation += 1
            sender = f"swap-{number}-{conversation}-{time.time_ns()}"
            for text in SCRIPT:
                if self.stop.is_set():
                    return
                started = time.monotonic()
                try:
                    response = session.post(self.url, json={"sender": sender, "message": text}, timeout=60)
                    ok = response.status_code == 200 and bool(response.json())
                except (requests.RequestException, ValueError):
                    ok = False
                self.turns.append((started, (time.monotonic() - started) * 1000 if ok else None))

    def window(self, start: float, end: float) -> List[Optional[float]]:
        """Latencies (None: failed) of the turns that started in [start, end)."""
        return [latency for at, latency in list(self.turns) if start <= at < end]


@dataclass
class Stats:
    """One window's turns."""

    turns: int
    failed: int
    p50: float
    p95: float
    p99: float
    worst: float

    @classmethod
    def of(cls, latencies: Sequence[Optional[float]]) -> Stats:
        """p50/p95/p99/max of the turns that succeeded, and how many failed."""
        ok = sorted(x for x in latencies if x is not None)
        q = statistics.quantiles(ok, n=100, method="inclusive") if len(ok) > 1 else (ok or [0.0]) * 99
        return cls(len(latencies), len(latencies) - len(ok), q[49], q[94], q[98], ok[-1] if ok else 0.0)


@dataclass
class Way:
    """One way of loading, with its windows over all swaps."""

    name: str
    windows: Dict[str, Stats]
    live_after_publish: List[float]


def run_way(way: str, model: Path, work: Path, swaps: int) -> Way:
    """Starts the stack with ``KESHER_MODEL_SWAP=way`` and publishes ``swaps`` times under load."""
    settings = without_limits(Settings(var_dir=work / f"var-{way}", model_pull_seconds=2).replace(model_swap=way))
    settings = settings.with_ports(redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(),
                                   smtp=free_port(), models=free_port())
    seed(settings)
    variants = [model, relabelled(model, work, f"{way}-b")]
    windows: Dict[str, List[Optional[float]]] = {"before": [], "during": [], "after": []}
    live_seconds: List[float] = []
    print(f"[{way}] starting the stack...", flush=True)
    with Supervisor(settings, model=model):
        load = Load(rest_url(settings), rest_headers(settings))
        threads = [threading.Thread(target=load.customer, args=(n,), daemon=True) for n in range(CUSTOMERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(WARM_UP_SECONDS + BEFORE_SECONDS)  # every customer's first turns, then steady traffic
            for swap in range(1, swaps + 1):
                target = variants[swap % 2]
                published_at = time.monotonic()
                publish(target, settings.published_dir)
                live = wait_until_live(settings, model_id(target), 120)
                if live is None:
                    raise RuntimeError(f"[{way}] the server did not switch to {target.name} within 120 s")
                live_at = published_at + live
                live_seconds.append(live)
                # This swap's last windows, and a clean "before" window for the next one.
                time.sleep(AFTER_LIVE_SECONDS + max(AFTER_SECONDS, BEFORE_SECONDS))
                windows["before"] += load.window(published_at - BEFORE_SECONDS, published_at)
                windows["during"] += load.window(published_at, live_at + AFTER_LIVE_SECONDS)
                windows["after"] += load.window(live_at + AFTER_LIVE_SECONDS,
                                                live_at + AFTER_LIVE_SECONDS + AFTER_SECONDS)
                print(f"[{way}] swap {swap}: live {live:.1f} s after publishing", flush=True)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=90)
    return Way(way, {name: Stats.of(latencies) for name, latencies in windows.items()}, live_seconds)


def report(ways: Sequence[Way], load_before: float, swaps: int) -> str:
    """The markdown table of every way and window."""
    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; 1-minute load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} at the end",
        f"{CUSTOMERS} customers chatting without pause over REST; {swaps} swaps per way; `rasa run` pulls every 2 s.",
        "",
        "| swap | window | turns | failed | p50 ms | p95 ms | p99 ms | max ms | p95 / p95 before |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for way in ways:
        before = way.windows["before"].p95 or 1.0
        for name in ("before", "during", "after"):
            s = way.windows[name]
            lines.append(f"| {way.name} | {name} | {s.turns} | {s.failed} | {s.p50:.0f} | {s.p95:.0f} | "
                         f"{s.p99:.0f} | {s.worst:.0f} | {s.p95 / before:.2f} |")
    lines.append("")
    for way in ways:
        seconds = ", ".join(f"{s:.1f}" for s in way.live_after_publish)
        lines.append(f"- {way.name}: publish → `/status` reports the new model: {seconds} s")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs both ways (or those given) and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ways", default="rasa,thread", help="comma-separated: rasa, thread")
    parser.add_argument("--swaps", type=int, default=SWAPS)
    parser.add_argument("--model", type=Path, help="the model to serve (default: train if the data changed)")
    args = parser.parse_args(argv)
    model = args.model or latest_model(Settings().model_dir) or train_model(Settings())
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kesher-swap-"))
    try:
        ways = [run_way(way, model, work, args.swaps) for way in args.ways.split(",") if way]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(ways, load_before, args.swaps)
    print("\n" + text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"swap-{date.today().isoformat()}.md"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
