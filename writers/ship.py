"""``make ship``: check the content, train, test, and put the new model live without downtime.

Three lanes start together, each one child process, so the machine's cores
work on them at once and Rasa is imported once per lane:

- **check**: the content check (``python -m kesher check-content``: Rasa's
  validation and the bilingual checks);
- **train, then test**: ``rasa train`` with Rasa's cache (components whose
  inputs did not change are reused), then the conversation tests in
  ``tests/conversations`` (``rasa test core --e2e --fail-on-prediction-errors``)
  on the new model, in one process (:mod:`writers.rasa_batch`);
- **gate**: the NLU gate from #2 (:mod:`writers.nlu_gate`: its own split,
  training and tests, in one process).

When all three have passed, the new model moves from the ship's staging folder
into the model folder (so a model that failed a step is never the newest there,
the one `make up` serves), and **publish** puts it in the model server's
folder. Every running ``rasa run`` pulls it within ``KESHER_MODEL_PULL_SECONDS``,
loads it next to the one serving (``bot/model_swap.py``) and switches without a
restart; conversations are in Redis and carry on.

A model that fails a step is never published: the first failure stops the
other lanes, and the writer is told which step failed and why.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from core.processes import latest_model, promote, staging_folder
from core.rasa_api import api_headers
from core.settings import PROJECT_ROOT, Settings
from writers.model_server import publish
from writers.nlu_gate import evaluate
from writers.project import Project
from writers.rasa_batch import ChildProcesses, run_rasa

__all__ = ["Ship", "ShipResult", "StepFailed", "main", "model_id"]

Out = Callable[[str], None]

def model_id(model: Path) -> str:
    """The ``model_id`` Rasa reports on ``/status`` for a model file."""
    with tarfile.open(model) as archive:
        member = archive.extractfile("metadata.json")
        assert member is not None, f"{model} has no metadata.json"
        return str(json.load(member)["model_id"])


@dataclass
class ShipResult:
    """How a ship went.

    Attributes:
        published: The model put live (None when a step failed).
        failed_step: Which step stopped it ("" when published).
        reason: Why, in the writer's words.
        seconds: Wall time of each step that ran (the lanes overlap), and ``total``.
    """

    published: Optional[Path] = None
    failed_step: str = ""
    reason: str = ""
    seconds: Dict[str, float] = field(default_factory=dict)


class StepFailed(Exception):
    """A step of the ship failed; the message says why."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step


class Ship:
    """One run of check | train → test | gate, then publish (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        gate: bool = True,
        conversation_tests: Path = PROJECT_ROOT / "tests" / "conversations",
        wait_live_seconds: float = 120.0,
        out: Out = print,
        model_dir: Optional[Path] = None,
        model: Optional[Path] = None,
    ) -> None:
        """Keeps the options; nothing runs until :meth:`run`.

        Args:
            settings: The content (``content_dir``), the models (``model_dir``), where
                models are published, and the local ``rasa run`` to watch.
            gate: Run the NLU gate (a held-out split with its own training).
            conversation_tests: Folder of Rasa test stories.
            wait_live_seconds: How long to wait for the local server to answer with the new model (0: don't).
            out: Where progress goes.
            model_dir: Where the new model goes (default: ``settings.model_dir``).
            model: Ship this already trained model (no training step), e.g. one trained elsewhere.
        """
        self.settings = settings
        self.project = settings.content_dir
        self.model_dir = model_dir or settings.model_dir
        self.given_model = model
        self.gate = gate
        self.conversation_tests = conversation_tests
        self.wait_live_seconds = wait_live_seconds
        self.out = out
        self._children = ChildProcesses()
        self._staging: Optional[Path] = None  # where this ship trains (core.processes.staging_folder)

    def run(self) -> ShipResult:
        """Runs the three lanes side by side, then publishes if every one passed."""
        result = ShipResult()
        started = time.monotonic()
        lanes: Dict[str, Callable[[ShipResult], Optional[Path]]] = {
            "check": self.check_content, "train": self.train_and_test}
        if self.gate:
            lanes["gate"] = self.run_gate
        self.out("== " + " | ".join("train → test" if name == "train" else name for name in lanes))
        failure: Optional[StepFailed] = None
        model: Optional[Path] = None
        with ExitStack() as staged:
            # The new model joins the model folder (where `make up` takes the newest) only once every lane
            # passed; otherwise it goes with the staging folder.
            self._staging = (staged.enter_context(staging_folder(self.model_dir)) if self.given_model is None
                             else None)
            with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="ship") as pool:
                futures: Dict[Future[Optional[Path]], str] = {pool.submit(lane, result): name
                                                              for name, lane in lanes.items()}
                for future in as_completed(futures):
                    try:
                        found = future.result()
                    except StepFailed as exc:
                        if failure is None:
                            failure = exc
                            self._children.stop()  # the other lanes' results no longer matter
                        continue
                    if futures[future] == "train":
                        model = found
            if failure is None and model is not None:
                if self._staging is not None:
                    model = promote(model, self.model_dir)
                ready = model
                try:
                    self._step("publish", result, lambda: self.publish(ready))
                except StepFailed as exc:
                    failure = exc
        result.seconds["total"] = time.monotonic() - started
        if failure is not None:
            result.failed_step, result.reason = failure.step, str(failure)
            self.out(f"NOT PUBLISHED — the {failure.step} step failed: {failure}")
            return result
        result.published = model
        self.out(f"   shipped in {result.seconds['total']:.0f} s")
        return result

    def _step(self, name: str, result: ShipResult, work: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            work()
        finally:
            result.seconds[name] = time.monotonic() - started
        self.out(f"   {name}: {result.seconds[name]:.0f} s")

    def _stopped(self, step: str) -> StepFailed:
        return StepFailed(step, "stopped because another step failed")

    # -- the lanes -----------------------------------------------------------------------
    def check_content(self, result: ShipResult) -> None:
        """Rasa's validation and the bilingual checks (``writers.content_check``)."""
        started = time.monotonic()
        child = subprocess.Popen([sys.executable, "-m", "kesher", "check-content", "--project", str(self.project)],
                                 cwd=PROJECT_ROOT, env=self.settings.child_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        self._children.started(child)
        stdout, stderr = child.communicate()
        result.seconds["check"] = time.monotonic() - started
        if self._children.stopped and child.returncode != 0:
            raise self._stopped("check")
        self.out((stdout + (stderr if child.returncode else "")).rstrip())
        if child.returncode != 0:
            raise StepFailed("check", "the content check found errors (listed above with file and line); "
                                      "fix them first")
        self.out(f"   check: {result.seconds['check']:.0f} s")

    def train_and_test(self, result: ShipResult) -> Path:
        """``rasa train`` with the cache, then the conversation tests on the new model, in one process.

        Returns:
            The tested model: the given one, or the new one, still in the ship's staging folder.
        """
        staging = self._staging
        with tempfile.TemporaryDirectory(prefix="kesher-ship-") as tmp:
            commands: List[List[str]] = []
            if staging is not None:
                # The check lane runs Rasa's validation next to this one; it is not run twice.
                commands.append(["train", "--domain", "domain", "--data", "data", "--config", "config.yml",
                                 "--out", str(staging), "--skip-validation"])
            tested = self.given_model or staging  # a folder: Rasa tests the newest model in it
            commands.append(["test", "core", "--e2e", "--stories", str(self.conversation_tests),
                             "--model", str(tested), "--out", tmp, "--fail-on-prediction-errors", "--no-plot"])
            batch = run_rasa(commands, self.project, self.settings.child_env(), self._children.started)
            result.seconds.update({"train" if name == "train" else "test": seconds
                                   for name, seconds in batch.seconds.items()})
            if batch.returncode != 0 and self._children.stopped:
                raise self._stopped("train")
            if batch.returncode != 0 and batch.failed[:1] == ["train"]:
                lines = batch.output.splitlines()
                errors = [line for line in lines if "Error" in line or "Exception" in line or "error:" in line]
                raise StepFailed("train", "training failed:\n" + "\n".join((errors or lines)[-20:]))
            model = self.given_model or (latest_model(staging) if staging is not None else None)
            if model is None:
                raise StepFailed("train", f"no model in {self.model_dir} after training")
            if self.given_model is None:
                self.out(f"   model: {model.name}")
                self.out(f"   train: {result.seconds.get('train', 0):.0f} s")
            else:
                self.out(f"   model: {model.name} (given, not trained here)")
            if batch.returncode != 0:
                failed = Path(tmp) / "failed_test_stories.yml"
                detail = failed.read_text(encoding="utf-8") if failed.exists() else batch.output[-3000:]
                names = [line.split(":", 1)[1].strip() for line in detail.splitlines() if line.startswith("- story:")]
                raise StepFailed(
                    "test",
                    f"{len(names) or 'some'} conversation test(s) failed"
                    + (f": {', '.join(names)}" if names else "")
                    + f".\nWhat the bot did instead (marked '# predicted'):\n{detail[-3000:]}",
                )
        self.out(f"   conversation tests: all passed ({result.seconds.get('test', 0):.0f} s)")
        return model

    def run_gate(self, result: ShipResult) -> None:
        """The NLU gate on this content (``writers.nlu_gate``)."""
        started = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix="kesher-nlu-gate-") as tmp:
                # One process: the ship's check and training start beside it, which the load average
                # does not show yet (a second gate process would only contend with them).
                gate = evaluate(Path(tmp), project=Project(self.project), started=self._children.started,
                                settings=self.settings, processes=1)
        except RuntimeError as exc:
            if self._children.stopped:
                raise self._stopped("gate") from exc
            raise StepFailed("gate", f"the NLU gate could not run: {exc}") from exc
        finally:
            result.seconds["gate"] = time.monotonic() - started
        self.out(gate.table())
        if not gate.passed:
            raise StepFailed("gate", "the NLU gate failed: " + "; ".join(gate.failures))
        self.out(f"   gate: {result.seconds['gate']:.0f} s")

    def publish(self, model: Path) -> None:
        """Puts the model on the model server; waits until the local server answers with it."""
        meta = publish(model, self.settings.published_dir)
        self.out(f"   published {model.name} (fingerprint {meta.etag}); servers pull it within "
                 f"{self.settings.model_pull_seconds} s")
        if self.wait_live_seconds > 0:
            seconds = wait_until_live(self.settings, model_id(model), self.wait_live_seconds)
            if seconds is None:
                self.out(f"   the server at {self.settings.rasa_url} is not answering with it yet (is it running?)")
            else:
                self.out(f"   live on {self.settings.rasa_url} {seconds:.0f} s after publishing")


def wait_until_live(settings: Settings, wanted: str, timeout: float) -> Optional[float]:
    """Seconds until ``rasa run`` reports model ``wanted`` on ``/status`` (None: not within ``timeout``)."""
    started = time.monotonic()
    url = f"{settings.rasa_url}/status"
    while time.monotonic() - started < timeout:
        request = urllib.request.Request(url, headers=api_headers(settings.rasa_api_token, username="kesher-ship"))
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if json.load(response).get("model_id") == wanted:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m kesher ship``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m kesher ship", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-gate", action="store_true", help="skip the NLU gate")
    parser.add_argument("--conversation-tests", type=Path, default=PROJECT_ROOT / "tests" / "conversations")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the local server to switch")
    parser.add_argument("--model", type=Path, help="ship this trained model instead of training one")
    # Kept so that `make ship SHIP_ARGS=--finetune` still works: a full training now takes seconds.
    parser.add_argument("--finetune", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--epoch-fraction", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.finetune or args.epoch_fraction is not None:
        print("--finetune is not needed any more (a full training takes seconds): training normally")
    ship = Ship(Settings.from_env(), gate=not args.no_gate, conversation_tests=args.conversation_tests,
                wait_live_seconds=0 if args.no_wait else 120, model=args.model)
    result = ship.run()
    return 0 if result.published else 1


if __name__ == "__main__":
    sys.exit(main())
