"""Healing benchmark: how long a part killed with ``kill -9`` takes to be back.

Run with ``python -m bench.heal`` (``make bench-heal``). It starts the parts as
``make up`` does (free loopback ports, a temporary state folder; ``--replicas 2``
puts ``rasa run``, the action server and the handoff service behind the nginx
balancer), then, for each part in turn and ``--rounds`` times, sends it SIGKILL
and lets the supervisor heal it (its own loop, as ``make up`` runs it). It
measures, from the kill:

- **noticed**: until the supervisor saw the part gone;
- **back**: until the part answered its readiness check again (for ``rasa run``:
  ``/status`` with a model loaded and one warm-up parse per language), which
  includes the first wait of 1 s before the new start;
- **in rotation** (replicas only): until nginx was reloaded with it.

Each kill follows a minute of the part's health (``STABLE_SECONDS`` is lowered
to 0 here, so every kill waits the first 1 s, as a part that had been up a
while would). It prints a table and writes it to ``bench/out/heal-<date>.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import kesher.supervisor
from bench.turns import machine
from core.processes import free_port, latest_model
from core.settings import PROJECT_ROOT, Settings
from kesher.cli import seed
from kesher.supervisor import ALL_PARTS, Supervisor

OUT_DIR = PROJECT_ROOT / "bench" / "out"


def _heal_once(supervisor: Supervisor, name: str, lines: List[str]) -> Dict[str, float]:
    part = supervisor.part(name)
    assert part.process is not None and part.state == "ready"
    old = part.process
    seen = len(lines)
    killed = time.monotonic()
    os.kill(old.pid, signal.SIGKILL)
    times: Dict[str, float] = {}
    while True:
        supervisor.tick()
        now = time.monotonic() - killed
        if "noticed" not in times and part.state != "ready":
            times["noticed"] = now
        if "noticed" in times and part.state == "ready" and part.process is not old:
            times.setdefault("back", now)
            if part.kind not in supervisor.balanced:
                return times
            if any("nginx reloaded" in line and str(part.port) in line for line in lines[seen:]):
                times["in rotation"] = now
                return times
        if now > 900:
            raise RuntimeError(f"{name} did not come back within 900 s")
        time.sleep(0.02)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=ALL_PARTS, default=list(ALL_PARTS), help="parts to run")
    parser.add_argument("--kill", nargs="+", help="parts to kill (default: every part run)")
    parser.add_argument("--replicas", type=int, default=1, help="KESHER_REPLICAS")
    parser.add_argument("--rounds", type=int, default=3, help="kills per part")
    parser.add_argument("--model", type=Path, help="the model to serve (default: the newest in models/)")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="kesher-heal-"))
    settings = Settings(var_dir=folder / "var").with_ports(
        redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(), smtp=free_port(),
        models=free_port()).replace(replicas=args.replicas)
    seed(settings)
    lines: List[str] = []

    def log(line: str) -> None:
        lines.append(line)
        print(f"  {line}", flush=True)

    kesher.supervisor.STABLE_SECONDS = 0.0
    model = args.model or latest_model(settings.model_dir)
    supervisor = Supervisor(settings, model=model, parts=args.parts, log=log)
    started = time.monotonic()
    supervisor.start()
    print(f"Every part answered {time.monotonic() - started:.0f} s after the start.", flush=True)
    results: Dict[str, List[Dict[str, float]]] = {}
    try:
        for part in supervisor.parts:
            if args.kill and part.name not in args.kill and part.kind not in args.kill:
                continue
            for _ in range(args.rounds):
                results.setdefault(part.name, []).append(_heal_once(supervisor, part.name, lines))
    finally:
        supervisor.stop()

    def cell(runs: List[Dict[str, float]], key: str) -> str:
        values = [run[key] for run in runs if key in run]
        return f"{statistics.median(values):.1f} ({max(values):.1f})" if values else "–"

    table = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; load average "
        f"{os.getloadavg()[0]:.1f} at the end; replicas {args.replicas}; {args.rounds} kills per part",
        "",
        "| part | noticed s, median (max) | back s, median (max) | in rotation s, median (max) |",
        "|---|---|---|---|",
        *(f"| {name} | {cell(runs, 'noticed')} | {cell(runs, 'back')} | {cell(runs, 'in rotation')} |"
          for name, runs in results.items()),
    ]
    report = "\n".join(table)
    print("\n" + report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"heal-{date.today().isoformat()}.md"
    out.write_text(report + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
