"""NLU benchmark: this project's pipeline on public intent data sets.

Run with ``make bench-nlu`` (or ``python -m bench.nlu``). For BANKING77 and the
Bitext customer-support set (read from ../shared/datasets, never copied into
data/), it converts the training split to Rasa NLU YAML in a temporary folder,
trains the intent part of ``config.yml`` (the pipeline without the FAQ
selector, which needs retrieval intents, and without the FallbackClassifier,
so every test sentence gets a real prediction), and reports test accuracy and
macro-F1. ``--baseline`` adds, in the same run, the pipeline before issue #14
(the same sparse features, no sentence encoder, Rasa's logistic regression)
as a comparison row. ``--config`` measures another pipeline, e.g. Rasa's
DIETClassifier.

The sentence encoder caches its embeddings (``KESHER_EMBEDDING_CACHE``): the
first run on a machine encodes every sentence (about 10 ms each on an idle
2-core machine), later runs read them, so the training time printed depends on
it; the table says which it was.

Progress is shown per stage, with Rasa's own training progress bars.
BANKING77's best published figure is 93.66 % (fine-tuned BERT).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from bot.components.sentence_encoder import EmbeddingCache
from core.processes import venv_bin
from core.settings import PROJECT_ROOT, Settings

DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
OUT_DIR = PROJECT_ROOT / "bench" / "out"
PUBLISHED = {"banking77": "93.66 % (BERT fine-tuned, Casanueva et al. 2020)", "bitext": "none peer-reviewed"}


def read_split(name: str, split: str) -> List[Tuple[str, str]]:
    """(text, intent) rows of one split of a data set."""
    if name == "banking77":
        path, text_col, label_col = DATASETS / "banking77" / f"{split}.csv", "text", "category"
    else:
        path, text_col, label_col = DATASETS / "bitext-customer-support" / f"{split}.csv", "utterance", "intent"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        return [(row[text_col].strip(), row[label_col].strip()) for row in rows if row[text_col].strip()]


def write_nlu(rows: Sequence[Tuple[str, str]], path: Path) -> None:
    """Writes rows as Rasa NLU YAML (one block per intent)."""
    by_intent: Dict[str, List[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(" ".join(text.split()))
    blocks = [{"intent": intent, "examples": "".join(f"- {t}\n" for t in sorted(set(texts)))}
              for intent, texts in sorted(by_intent.items())]
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False,
                                   width=10_000), encoding="utf-8")


NOT_BENCHMARKED = ("ResponseSelector", "FallbackClassifier", "bot.components.faq_selector.FaqSelector")
ENCODER = "bot.components.sentence_encoder.SentenceEncoder"
INTENTS = "bot.components.intent_classifier.BlankSafeLogisticRegressionClassifier"


def benchmark_config(source: Path, out: Path, baseline: bool = False) -> Path:
    """The pipeline of ``source`` without its FAQ selector and FallbackClassifier.

    With ``baseline``, the pipeline before issue #14: no sentence encoder, and Rasa's
    logistic regression (``max_iter`` 1000) on the sparse features.
    """
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] not in NOT_BENCHMARKED]
    if baseline:
        config["pipeline"] = [
            {"name": "LogisticRegressionClassifier", "max_iter": 1000} if c["name"] == INTENTS else c
            for c in config["pipeline"] if c["name"] != ENCODER
        ]
    config.pop("policies", None)
    out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return out


def _rasa(args: Sequence[str], cwd: Path, show_progress: bool) -> None:
    result = subprocess.run([venv_bin("rasa"), *args], cwd=cwd, env=Settings.from_env().child_env(),
                            stdout=None if show_progress else subprocess.DEVNULL,
                            stderr=None if show_progress else subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"rasa {' '.join(args)} failed with exit code {result.returncode}")


def run(name: str, config: Path, work: Path) -> Dict[str, float]:
    """Trains and tests one data set; returns accuracy, macro-F1 and timings."""
    folder = work / config.stem / name
    folder.mkdir(parents=True)
    train, test = read_split(name, "train"), read_split(name, "test")
    print(f"[{name}] {len(train)} training and {len(test)} test sentences, "
          f"{len({i for _, i in train})} intents", flush=True)
    write_nlu(train, folder / "train.yml")
    write_nlu(test, folder / "test.yml")
    (folder / "domain.yml").write_text("version: \"3.1\"\n", encoding="utf-8")
    print(f"[{name}] training...", flush=True)
    start = time.perf_counter()
    _rasa(["train", "nlu", "--nlu", "train.yml", "--config", str(config), "--out", "models",
           "--fixed-model-name", "bench"], folder, show_progress=True)
    train_s = time.perf_counter() - start
    print(f"[{name}] trained in {train_s:.0f} s; testing...", flush=True)
    start = time.perf_counter()
    _rasa(["test", "nlu", "--model", "models/bench.tar.gz", "--nlu", "test.yml", "--out", "results"],
          folder, show_progress=False)
    test_s = time.perf_counter() - start
    report = json.loads((folder / "results" / "intent_report.json").read_text())
    result = {
        "accuracy": float(report["accuracy"]),
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "train_s": train_s,
        "test_s": test_s,
        "test_n": float(len(test)),
    }
    print(f"[{name}] accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}", flush=True)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "config.yml",
                        help="pipeline to measure (default: this project's config.yml)")
    parser.add_argument("--datasets", nargs="+", default=["banking77", "bitext"], choices=["banking77", "bitext"])
    parser.add_argument("--baseline", action="store_true",
                        help="also measure the pipeline before issue #14 (sparse features only) in the same run")
    args = parser.parse_args(argv)
    cache = Settings.from_env().embedding_cache_dir / EmbeddingCache.FILE
    cache_state = f"embedding cache {'present' if cache.exists() else 'empty'} at the start"
    with tempfile.TemporaryDirectory(prefix="kesher-bench-nlu-") as tmp:
        work = Path(tmp)
        configs = {"this pipeline": benchmark_config(args.config, work / "pipeline.yml")}
        if args.baseline:
            configs["before #14"] = benchmark_config(args.config, work / "baseline.yml", baseline=True)
        results: Dict[Tuple[str, str], Dict[str, float]] = {}
        for label, config in configs.items():
            print(f"Pipeline ({label}):", ", ".join(c["name"].rsplit(".", 1)[-1]
                                                  for c in yaml.safe_load(config.read_text())["pipeline"]), flush=True)
            for name in args.datasets:
                results[(label, name)] = run(name, config, work)
    lines = [
        f"NLU benchmark {date.today().isoformat()}, pipeline from {args.config.name}, {cache_state}",
        "",
        "| pipeline | data set | test sentences | accuracy | macro-F1 | train s | test s | best published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (label, name), r in results.items():
        lines.append(f"| {label} | {name} | {int(r['test_n'])} | {r['accuracy'] * 100:.2f} % | "
                     f"{r['macro_f1'] * 100:.2f} % | {r['train_s']:.0f} | {r['test_s']:.0f} | {PUBLISHED[name]} |")
    if ("this pipeline", "banking77") in results:
        gap = 93.66 - results[("this pipeline", "banking77")]["accuracy"] * 100
        lines += ["", f"BANKING77: {gap:.2f} points below the best published accuracy (93.66 %)."]
    report = "\n".join(lines)
    print("\n" + report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"nlu-{args.config.stem}-{date.today().isoformat()}.md"
    out.write_text(report + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
