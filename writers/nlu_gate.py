"""The NLU quality gate: train on 80 % of the bot's own examples, test on the rest.

``python -m kesher nlu-gate`` splits the project's NLU data (``data/nlu``, found
by :class:`writers.project.Project`) with Rasa's stratified split (a
fixed seed, so the same examples are held out every time), trains the
``config.yml`` pipeline on the training part, runs ``rasa test nlu`` on the
held-out part once (the Hebrew and the English examples are also scored on
their own, from its per-example predictions) and prints the
F1 of every intent and the accuracy of the FAQ answer selection.

Thresholds (see :data:`THRESHOLDS`) and why:
    Each language has its own floors (``intent_macro_f1_he``/``_en``,
    ``faq_accuracy_he``/``_en``): the bot serves both, and an average hides a
    language that got worse (before issue #14 Hebrew was 0.73 while the
    average was 0.78). Raised 2026-11-30 after the training data of issue #14
    (more and more varied wordings of the weak intents, every FAQ answer,
    help-centre questions and near-domain ``out_of_scope`` questions, 3,000
    examples) and the intent classifier's vote of the nearest examples, from
    what this gate measured on this split (seed 42, 601 held out) on main
    that day: intent macro-F1 0.916 (Hebrew 0.913, English 0.917), FAQ answer
    accuracy 0.974 (Hebrew 0.966, English 0.982). The floors sit 3–5 points
    under those figures (intent 0.88 overall and per language; FAQ 0.94
    overall, 0.92 per language, where each language has about 115 held-out
    FAQ sentences, so one mistake is 0.9 points): a dozen more misclassified
    held-out sentences fails the gate, which is what a harmful data or
    pipeline change looks like, while reruns do not (the classifiers are
    deterministic linear models, the split is seeded, the e5 vectors are
    exact). Adding examples changes which sentences are held out, so a run
    after a data change moves by a point or two either way without anything
    getting worse. Each intent has 10–70 held-out sentences, so one mistake
    moves a small intent's F1 by up to 0.1: the per-intent floor (0.5) only
    catches an intent that collapsed. Raise the floors as the data and the
    pipeline improve.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sklearn.metrics import classification_report

from core.language import LANGUAGES, is_hebrew
from core.settings import PROJECT_ROOT, Settings
from writers.project import Project
from writers.rasa_batch import Started, run_rasa

__all__ = ["THRESHOLDS", "GateResult", "by_language", "held_out_predictions", "language_accuracy", "language_macro_f1",
           "run_gate", "split_nlu"]

THRESHOLDS: Dict[str, float] = {
    "intent_macro_f1": 0.88,
    "intent_macro_f1_he": 0.88,
    "intent_macro_f1_en": 0.88,
    "intent_min_f1": 0.50,
    "faq_accuracy": 0.94,
    "faq_accuracy_he": 0.92,
    "faq_accuracy_en": 0.92,
}


@dataclass
class GateResult:
    """What the gate measured and whether it passed."""

    intent_f1: Dict[str, float]
    intent_support: Dict[str, int]
    macro_f1: float
    macro_f1_by_language: Dict[str, float]
    faq_accuracy: float
    faq_accuracy_by_language: Dict[str, float] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every threshold holds."""
        return not self.failures

    def table(self) -> str:
        """The per-intent F1 table and the summary, as printed by the gate."""
        lines = [f"{'intent':<22} {'F1':>6} {'support':>8}"]
        for intent in sorted(self.intent_f1):
            lines.append(f"{intent:<22} {self.intent_f1[intent]:>6.3f} {self.intent_support[intent]:>8}")
        lines.append(f"{'macro F1 (all)':<22} {self.macro_f1:>6.3f}")
        for language, value in sorted(self.macro_f1_by_language.items()):
            lines.append(f"{'macro F1 (' + language + ')':<22} {value:>6.3f}")
        lines.append(f"{'FAQ answer accuracy':<22} {self.faq_accuracy:>6.3f}")
        for language, value in sorted(self.faq_accuracy_by_language.items()):
            lines.append(f"{'FAQ accuracy (' + language + ')':<22} {value:>6.3f}")
        lines.append("PASSED" if self.passed else "FAILED: " + "; ".join(self.failures))
        return "\n".join(lines)


def _gate_env() -> Dict[str, str]:
    settings = Settings.from_env()
    # The gate's model (80 % of the data) never shares a component with the served one: its own
    # cache keeps it from evicting the served model's, and from contending with a training next to it.
    return settings.replace(rasa_cache_dir=settings.rasa_cache_dir.with_name("gate-cache")).child_env()


def _rasa(commands: List[List[str]], cwd: Path, started: Optional[Started] = None) -> None:
    """Runs Rasa commands one after the other in one process (:mod:`writers.rasa_batch`)."""
    result = run_rasa(commands, cwd, _gate_env(), started)
    if result.returncode != 0:
        raise RuntimeError(f"rasa {' '.join(result.failed)} failed:\n{result.output[-3000:]}")


def split_nlu(nlu_path: Path, out_dir: Path, seed: int) -> Tuple[Path, Path]:
    """``rasa data split nlu --training-fraction 0.8``: Rasa's stratified split, done in this process.

    The same steps as Rasa's command, without starting its command line (about ten seconds of imports).

    Returns:
        The training part and the held-out part (``training_data.yml``, ``test_data.yml`` in ``out_dir``).
    """
    with warnings.catch_warnings():
        # Rasa's imports warn about their own dependencies, and its data loaded without the domain
        # warns that every FAQ example lacks its response (it does not): nothing for the writer.
        warnings.simplefilter("ignore")
        # Rasa's data classes take a second to import; every other command of `python -m kesher` does without.
        from rasa.shared.data import get_nlu_directory  # noqa: PLC0415
        from rasa.shared.nlu.training_data.loading import load_data  # noqa: PLC0415
        from rasa.shared.nlu.training_data.util import get_file_format_extension  # noqa: PLC0415

        data_path = get_nlu_directory(str(nlu_path))
        extension = get_file_format_extension(data_path)
        train, test = load_data(data_path).train_test_split(0.8, seed)
    train.persist(str(out_dir), filename=f"training_data{extension}")
    test.persist(str(out_dir), filename=f"test_data{extension}")
    return out_dir / f"training_data{extension}", out_dir / f"test_data{extension}"


def _macro_f1(report: Mapping[str, Any]) -> float:
    return float(report["macro avg"]["f1-score"])


def _faq_accuracy(results: Path) -> float:
    report = json.loads((results / "response_selection_report.json").read_text())
    return float(report.get("accuracy", report.get("micro avg", {}).get("f1-score", 0.0)))


def _intent_rows(report: Mapping[str, Any]) -> Dict[str, Mapping[str, Any]]:
    return {
        name: row for name, row in report.items()
        if isinstance(row, dict) and name not in ("macro avg", "weighted avg", "micro avg")
    }


def held_out_predictions(results: Path, kind: str, target: str, predicted: str) -> List[Tuple[str, str, str]]:
    """``(text, target, prediction)`` of every held-out example, from Rasa's successes and errors files.

    Args:
        results: The ``--out`` folder of ``rasa test nlu --successes``.
        kind: ``intent`` or ``response_selection`` (the files' prefix).
        target: The key of the right answer in those files.
        predicted: The key of the prediction (a name, or ``{"name": ...}``).
    """
    rows: List[Tuple[str, str, str]] = []
    for outcome in ("successes", "errors"):
        path = results / f"{kind}_{outcome}.json"
        if path.exists():  # Rasa writes no file when there is nothing to list
            for entry in json.loads(path.read_text(encoding="utf-8")):
                guess = entry[predicted]
                rows.append((str(entry["text"]), str(entry[target]),
                             str((guess.get("name") if isinstance(guess, dict) else guess) or "")))
    return rows


def by_language(rows: List[Tuple[str, str, str]]) -> Dict[str, List[Tuple[str, str, str]]]:
    """The rows of each language: an example is Hebrew when it contains Hebrew letters."""
    return {lang: [r for r in rows if is_hebrew(r[0]) == (lang == "he")] for lang in LANGUAGES}


def language_macro_f1(rows: List[Tuple[str, str, str]]) -> float:
    """Intent macro-F1 as ``rasa test nlu`` computes it (over the intents of the held-out examples)."""
    targets = [target for _, target, _ in rows]
    if not targets:
        return 0.0
    labels = sorted(set(targets))
    report = classification_report(targets, [guess for _, _, guess in rows], labels=labels, output_dict=True,
                                   zero_division=0)
    return float(report["macro avg"]["f1-score"])


def language_accuracy(rows: List[Tuple[str, str, str]]) -> float:
    """The share of examples whose prediction is the target (1.0 when there are none: nothing was missed)."""
    return sum(target == guess for _, target, guess in rows) / len(rows) if rows else 1.0


def evaluate(work_dir: Path, seed: int = 42, project: Optional[Project] = None,
             started: Optional[Started] = None) -> GateResult:
    """Splits, trains and tests in ``work_dir``; returns the measurements.

    The held-out part is parsed once (``rasa test nlu --successes --no-plot``); the per-language figures
    are worked out from its per-example predictions, the way Rasa works out the overall ones.

    Args:
        work_dir: Where the split, the model and the reports go.
        seed: The split's random seed (the same examples are held out every time).
        project: The project whose NLU data, pipeline and domain are measured (Kesher's by default).
        started: Called with the child process that trains and tests (``make ship`` stops it when
            another step fails).
    """
    project = project or Project(PROJECT_ROOT)
    split_dir = work_dir / "split"
    train_file, test_file = split_nlu(project.nlu_path, split_dir, seed)
    model = work_dir / "models" / "gate.tar.gz"
    results = work_dir / "results"
    _rasa([["train", "nlu", "--nlu", str(train_file), "--config", str(project.config_path),
            "--domain", str(project.domain_path), "--out", str(work_dir / "models"), "--fixed-model-name", "gate"],
           ["test", "nlu", "--model", str(model), "--nlu", str(test_file), "--out", str(results),
            "--successes", "--no-plot"]],
          project.root, started)
    intent_report = json.loads((results / "intent_report.json").read_text())
    rows = _intent_rows(intent_report)
    intents = by_language(held_out_predictions(results, "intent", "intent", "intent_prediction"))
    answers = by_language(held_out_predictions(results, "response_selection", "intent_response_key_target",
                                        "intent_response_key_prediction"))
    result = GateResult(
        intent_f1={k: float(v["f1-score"]) for k, v in rows.items()},
        intent_support={k: int(v["support"]) for k, v in rows.items()},
        macro_f1=_macro_f1(intent_report),
        macro_f1_by_language={lang: language_macro_f1(intents[lang]) for lang in LANGUAGES},
        faq_accuracy=_faq_accuracy(results),
        faq_accuracy_by_language={lang: language_accuracy(answers[lang]) for lang in LANGUAGES},
    )
    _apply_thresholds(result)
    return result


def _apply_thresholds(result: GateResult) -> None:
    t = THRESHOLDS
    if result.macro_f1 < t["intent_macro_f1"]:
        result.failures.append(f"intent macro F1 {result.macro_f1:.3f} < {t['intent_macro_f1']}")
    for language, value in result.macro_f1_by_language.items():
        floor = t[f"intent_macro_f1_{language}"]
        if value < floor:
            result.failures.append(f"{language} intent macro F1 {value:.3f} < {floor}")
    for language, value in result.faq_accuracy_by_language.items():
        floor = t[f"faq_accuracy_{language}"]
        if value < floor:
            result.failures.append(f"{language} FAQ answer accuracy {value:.3f} < {floor}")
    for intent, value in result.intent_f1.items():
        if value < t["intent_min_f1"]:
            result.failures.append(f"intent {intent} F1 {value:.3f} < {t['intent_min_f1']}")
    if result.faq_accuracy < t["faq_accuracy"]:
        result.failures.append(f"FAQ answer accuracy {result.faq_accuracy:.3f} < {t['faq_accuracy']}")


def run_gate(work_dir: Optional[Path] = None, project: Optional[Project] = None) -> GateResult:
    """Runs the gate in ``work_dir`` (a temporary folder by default) and prints the table.

    Args:
        work_dir: Where to work (kept afterwards); a temporary folder when None.
        project: The project to measure (Kesher's by default).
    """
    if work_dir is not None:
        result = evaluate(work_dir, project=project)
    else:
        with tempfile.TemporaryDirectory(prefix="kesher-nlu-gate-") as tmp:
            result = evaluate(Path(tmp), project=project)
    print(result.table())
    return result
