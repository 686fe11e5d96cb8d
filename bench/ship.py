"""Ship benchmark: edit → live seconds of ``make ship``, and what customers notice meanwhile.

Run with ``make bench-ship`` (or ``python -m bench.ship``). In one invocation it:

1. starts the whole stack as ``make up`` does, on a copy of the content, with
   ``rasa run`` asking the model server for a new model every 2 s;
2. for two edits — **one example** (one English example added to an
   existing intent) and **a new FAQ** (an intent with 10 examples in each
   language and its answer in both, as in docs/writing.md) — runs
   ``writers.ship.Ship`` exactly as ``make ship`` does (content check |
   training → conversation tests | NLU gate, side by side, then publish) two
   ways: **cached** (the project's Rasa caches, the served model's and the NLU
   gate's, as a writer has them) and **cold** (empty ones: everything trains;
   until 2026-12-01 the gate's cache was the project's in both ways, so a cold
   ship's gate read what the cached ship of the same edit had just written);
   each time it measures every step
   and edit → the server reports the new model (``/status``); every edit is
   new (a word no earlier run used), so no cache holds its result;
3. during every ship, 5 customers (``--customers``; 0 measures the ship on an
   otherwise idle machine) keep sending turns (``/greet`` over REST):
   turns that failed, and p50/p95 latency in the 30 s before the publish (while
   the ship trains and tests on the same cores) against the window from publish
   until 10 s after the server switched (``bench/swap.py`` measures the swap alone);
4. prints the tables and writes them to ``bench/out/ship-<date>.md``.
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
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import requests

from bench.turns import OUT_DIR, machine, rest_headers, rest_url, without_limits
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor
from writers.ship import Ship

LOAD_CUSTOMERS = 5
AFTER_LIVE_SECONDS = 10.0

GIFT_EN = ["do you do gift wrapping?", "can you wrap it as a present", "is gift wrap available",
           "can I add a gift card message", "how much is gift wrapping", "can you send it wrapped as a gift",
           "do you wrap presents", "I want it gift wrapped", "gift wrap option?",
           "can the order come in gift packaging"]
GIFT_HE = ["אפשר לעטוף כמתנה?", "יש לכם עטיפת מתנה", "אפשר לקבל את זה ארוז למתנה", "כמה עולה עטיפה למתנה",
           "אפשר להוסיף כרטיס ברכה", "תעטפו לי את זה בבקשה", "יש אריזת מתנה?", "אני רוצה שזה יגיע עטוף",
           "אפשר לשלוח כמתנה עם עטיפה", "עטיפת מתנה בתשלום?"]


def _examples(intent: str, lines: Sequence[str]) -> str:
    return f"\n- intent: {intent}\n  examples: |\n" + "".join(f"    - {line}\n" for line in lines)


# A word no earlier run used: Rasa's cache must not hold the result of this very edit.
FRESH = f"z{os.getpid()}{int(time.time()) % 100000}"


def edit_one_example(content: Path) -> None:
    """One new English example of an existing intent."""
    path = content / "data" / "nlu" / "en" / "core.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    - hello there\n", f"    - hello there\n    - hello, anybody at {FRESH}?\n", 1),
                    encoding="utf-8")


def edit_new_faq(content: Path) -> None:
    """The worked example of docs/writing.md: a gift-wrapping FAQ in both languages."""
    for language, lines in (("en", GIFT_EN), ("he", GIFT_HE)):
        path = content / "data" / "nlu" / language / "faq.yml"
        path.write_text(path.read_text(encoding="utf-8") + _examples("faq/gift_wrapping", lines), encoding="utf-8")
    domain = content / "domain" / "faq.yml"
    domain.write_text(domain.read_text(encoding="utf-8") + (
        '\n  utter_faq/gift_wrapping:\n'
        f'  - text: "Yes! Add gift wrapping at checkout for ₪15 per item, with a free greeting card ({FRESH})."\n'
        '  - text: "כן! אפשר להוסיף עטיפת מתנה בקופה ב-₪15 לפריט, עם כרטיס ברכה בחינם."\n'
        '    condition:\n    - type: slot\n      name: language\n      value: he\n'), encoding="utf-8")


@dataclass
class Load:
    """Customers chatting during a swap: (start time, latency ms or None for a failure)."""

    url: str
    headers: Dict[str, str] = field(default_factory=dict)
    turns: List[Tuple[float, Optional[float]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def customer(self) -> None:
        """One customer's turns, one after the other, until stopped (runs in a thread)."""
        session = requests.Session()
        session.headers.update(self.headers)
        sender = f"load-{threading.get_ident()}-{time.time_ns()}"
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = session.post(self.url, json={"sender": sender, "message": "/greet"}, timeout=60)
                ok = response.status_code == 200 and bool(response.json())
            except (requests.RequestException, ValueError):
                ok = False
            self.turns.append((started, (time.monotonic() - started) * 1000 if ok else None))

    def window(self, start: float, end: float) -> Tuple[int, int, float, float]:
        """Turns, failures, p50 and p95 of the turns that started in [start, end)."""
        inside = [lat for at, lat in self.turns if start <= at < end]
        ok = sorted(lat for lat in inside if lat is not None)
        q = statistics.quantiles(ok, n=100, method="inclusive") if len(ok) > 1 else (ok or [0.0]) * 99
        return len(inside), len(inside) - len(ok), q[49], q[94]


class ShipFailed(RuntimeError):
    """A ship did not publish (recorded in the table, the run goes on)."""


@dataclass
class Run:
    """One ship of one edit."""

    edit: str
    how: str
    seconds: Dict[str, float]
    edit_to_live: float
    live_after_publish: float
    before: Tuple[int, int, float, float]
    during: Tuple[int, int, float, float]
    failed: str = ""


def ship_once(settings: Settings, content: Path, edit: Callable[[Path], None], how: str, work: Path,
              gate: bool) -> Tuple[Dict[str, float], float, float, float, float]:
    """Applies ``edit`` to a fresh copy of the content and ships it ``how``; returns the timings."""
    if content.exists():
        shutil.rmtree(content)
    for name in ("domain", "data"):
        shutil.copytree(PROJECT_ROOT / name, content / name)
    shutil.copy(PROJECT_ROOT / "config.yml", content / "config.yml")
    started = time.monotonic()
    edit(content)
    cache = work / "empty-cache" if how == "cold" else PROJECT_ROOT / ".rasa" / "cache"
    # Cold: empty caches for the training and for the gate's trainings (their siblings, ``gate-cache*``).
    for old in [work / "empty-cache", *work.glob("gate-cache*")]:
        shutil.rmtree(old, ignore_errors=True)
    lines: List[str] = []
    ship = Ship(settings.replace(content_dir=content, rasa_cache_dir=cache), gate=gate, wait_live_seconds=300,
                model_dir=work / f"models-{how}", out=lines.append)
    result = ship.run()
    if result.published is None:
        steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.seconds.items())
        raise ShipFailed(f"{result.failed_step}: {result.reason.splitlines()[-1] if result.reason else ''}"
                         f" (steps run: {steps})")
    live = time.monotonic()
    publish_started = live - result.seconds["publish"]
    return result.seconds, live - started, result.seconds["publish"], publish_started, live


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ways", default="cached,cold", help="comma-separated: cached, cold")
    parser.add_argument("--no-gate", action="store_true", help="ship without the NLU gate")
    parser.add_argument("--edits", default="example,faq", help="comma-separated: example, faq")
    parser.add_argument("--customers", type=int, default=LOAD_CUSTOMERS,
                        help="customers chatting during every ship (0: the ship alone)")
    args = parser.parse_args(argv)
    ways = [w for w in args.ways.split(",") if w]

    print("Training the model if the data changed...", flush=True)
    model = train_model(Settings())
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kesher-ship-"))
    runs: List[Run] = []
    try:
        settings = without_limits(Settings(var_dir=work / "var", model_pull_seconds=2)).with_ports(
            redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(), smtp=free_port(),
            models=free_port())
        seed(settings)
        print("Starting the stack...", flush=True)
        with Supervisor(settings, model=model):
            load = Load(rest_url(settings), rest_headers(settings))
            threads = [threading.Thread(target=load.customer, daemon=True) for _ in range(args.customers)]
            for thread in threads:
                thread.start()
            try:
                edits = {"example": ("one example", edit_one_example), "faq": ("new FAQ, he + en", edit_new_faq)}
                for edit_name, edit in (edits[e] for e in args.edits.split(",") if e):
                    for how in ways:
                        print(f"  {edit_name}: {how}...", flush=True)
                        try:
                            seconds, to_live, after_publish, published_at, live_at = ship_once(
                                settings, work / "content", edit, how, work, not args.no_gate)
                        except ShipFailed as exc:
                            print(f"    not published: {exc}", flush=True)
                            runs.append(Run(edit_name, how, {}, 0, 0, (0, 0, 0, 0), (0, 0, 0, 0), str(exc)))
                            continue
                        time.sleep(AFTER_LIVE_SECONDS)
                        before = load.window(published_at - 30, published_at)
                        during = load.window(published_at, live_at + AFTER_LIVE_SECONDS)
                        runs.append(Run(edit_name, how, seconds, to_live, after_publish, before, during))
            finally:
                load.stop.set()
                for thread in threads:
                    thread.join(timeout=90)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = report(runs, not args.no_gate, load_before, args.customers)
    print("\n" + text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"ship-{date.today().isoformat()}.md"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


def report(runs: Sequence[Run], gate: bool, load_before: float, customers: int = LOAD_CUSTOMERS) -> str:
    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; 1-minute load average "
        f"{load_before:.2f} before the stack started, {os.getloadavg()[0]:.2f} at the end",
        f"{customers} customers sending `/greet` turns throughout; `rasa run` pulls every 2 s; "
        f"NLU gate {'included' if gate else 'left out'}. The check, train → tests and gate lanes run side by "
        "side: their seconds overlap.",
        "",
        "| edit | caches | check s | train s | tests s | gate s | publish → live s | edit → live s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if r.failed:
            lines.append(f"| {r.edit} | {r.how} | not published: {r.failed[:160]} | | | | | |")
            continue
        sec = r.seconds
        lines.append(f"| {r.edit} | {r.how} | {sec.get('check', 0):.0f} | {sec.get('train', 0):.0f} | "
                     f"{sec.get('test', 0):.0f} | {sec.get('gate', 0):.0f} | {r.live_after_publish:.1f} | "
                     f"{r.edit_to_live:.0f} |")
    lines += ["", "| edit | caches | turns before (30 s) | failed | p50 ms | p95 ms | turns during swap | failed | "
              "p50 ms | p95 ms |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in runs if not r.failed):
        b, d = r.before, r.during
        lines.append(f"| {r.edit} | {r.how} | {b[0]} | {b[1]} | {b[2]:.0f} | {b[3]:.0f} | {d[0]} | {d[1]} | "
                     f"{d[2]:.0f} | {d[3]:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
