"""``make ship``: check the content, train, test, and put the new model live without downtime.

1. **Check** the content (``writers.content_check``: Rasa's validation and the
   bilingual checks). Any error stops here.
2. **Train** with Rasa's cache (components whose inputs did not change are
   reused); ``--finetune`` continues from the current model with fewer epochs.
3. **Test** the new model: the conversation tests in ``tests/conversations``
   (``rasa test core --e2e --fail-on-prediction-errors``) and the NLU gate
   from #2 (``writers.nlu_gate``).
4. **Publish** it to the model server's folder. Every running ``rasa run``
   pulls it within ``KESHER_MODEL_PULL_SECONDS`` and switches to it without a
   restart; conversations are in Redis and carry on.

A model that fails a step is never published, and the writer is told which
step failed and why.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from core.processes import latest_model, venv_bin
from core.rasa_api import api_headers
from core.settings import PROJECT_ROOT, Settings
from writers.model_server import publish
from writers.nlu_gate import run_gate

__all__ = ["Ship", "ShipResult", "main", "model_id"]

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
        seconds: Wall time of each step.
    """

    published: Optional[Path] = None
    failed_step: str = ""
    reason: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


class StepFailed(Exception):
    """A step of the ship failed; the message says why."""


class Ship:
    """One run of check → train → test → publish (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        finetune: bool = False,
        epoch_fraction: float = 0.3,
        gate: bool = True,
        conversation_tests: Path = PROJECT_ROOT / "tests" / "conversations",
        wait_live_seconds: float = 120.0,
        out: Out = print,
        model_dir: Optional[Path] = None,
        model: Optional[Path] = None,
    ) -> None:
        """Keeps the options; nothing runs until :meth:`run`.

        Args:
            settings: The content (``content_dir``), the current models (``model_dir``), where
                models are published, and the local ``rasa run`` to watch.
            finetune: Continue training from the current model instead of from scratch.
            epoch_fraction: With ``finetune``, the share of the configured epochs to train.
            gate: Run the NLU gate (a held-out split, its own training: minutes).
            conversation_tests: Folder of Rasa test stories.
            wait_live_seconds: How long to wait for the local server to answer with the new model (0: don't).
            out: Where progress goes.
            model_dir: Where the new model goes (default: ``settings.model_dir``); with
                ``finetune`` the newest model of ``settings.model_dir`` is the starting point.
            model: Ship this already trained model (no training step), e.g. one trained elsewhere.
        """
        self.settings = settings
        self.project = settings.content_dir
        self.model_dir = model_dir or settings.model_dir
        self.given_model = model
        self.finetune = finetune
        self.epoch_fraction = epoch_fraction
        self.gate = gate
        self.conversation_tests = conversation_tests
        self.wait_live_seconds = wait_live_seconds
        self.out = out

    def run(self) -> ShipResult:
        """Runs the steps in order; stops at the first failure."""
        result = ShipResult()
        model: Optional[Path] = None
        steps: List[tuple[str, Callable[[], None]]] = []

        def train() -> None:
            nonlocal model
            if self.given_model is not None:
                model = self.given_model
                self.out(f"   model: {model.name} (given, not trained here)")
            else:
                model = self.train()

        steps = [
            ("check", self.check_content),
            ("train", train),
            ("test", lambda: self.test(model)),  # type: ignore[arg-type]
            ("publish", lambda: self.publish(model)),  # type: ignore[arg-type]
        ]
        for name, step in steps:
            started = time.monotonic()
            self.out(f"== {name}")
            try:
                step()
            except StepFailed as exc:
                result.failed_step, result.reason = name, str(exc)
                result.seconds[name] = time.monotonic() - started
                self.out(f"NOT PUBLISHED — the {name} step failed: {exc}")
                return result
            result.seconds[name] = time.monotonic() - started
            self.out(f"   {name}: {result.seconds[name]:.0f} s")
        result.published = model
        return result

    # -- the steps ---------------------------------------------------------------------
    def check_content(self) -> None:
        """Rasa's validation and the bilingual checks (``writers.content_check``)."""
        done = subprocess.run([sys.executable, "-m", "kesher", "check-content", "--project", str(self.project)],
                              cwd=PROJECT_ROOT, env=self.settings.child_env(), capture_output=True, text=True)
        self.out((done.stdout + (done.stderr if done.returncode else "")).rstrip())
        if done.returncode != 0:
            raise StepFailed("the content check found errors (listed above with file and line); fix them first")

    def train(self) -> Path:
        """``rasa train`` with the cache (or ``--finetune``); the new model's path."""
        before = latest_model(self.model_dir)
        command = [venv_bin("rasa"), "train", "--domain", "domain", "--data", "data", "--config", "config.yml",
                   "--out", str(self.model_dir)]
        base = latest_model(self.settings.model_dir)
        if self.finetune and base is not None:
            command += ["--finetune", str(base), "--epoch-fraction", str(self.epoch_fraction)]
        done = subprocess.run(command, cwd=self.project, env=self.settings.child_env(), capture_output=True, text=True)
        model = latest_model(self.model_dir)
        if done.returncode != 0 or model is None:
            output = (done.stdout + done.stderr).splitlines()
            errors = [line for line in output if "Error" in line or "Exception" in line or "error:" in line]
            raise StepFailed("training failed:\n" + "\n".join((errors or output)[-20:]))
        self.out(f"   model: {model.name}" + (" (nothing changed: the current model)" if model == before else ""))
        return model

    def test(self, model: Path) -> None:
        """The conversation tests, then the NLU gate."""
        with tempfile.TemporaryDirectory(prefix="kesher-ship-") as tmp:
            done = subprocess.run(
                [venv_bin("rasa"), "test", "core", "--e2e", "--stories", str(self.conversation_tests),
                 "--model", str(model), "--out", tmp, "--fail-on-prediction-errors"],
                cwd=PROJECT_ROOT, env=self.settings.child_env(), capture_output=True, text=True)
            failed = Path(tmp) / "failed_test_stories.yml"
            if done.returncode != 0:
                detail = failed.read_text(encoding="utf-8") if failed.exists() else (done.stdout + done.stderr)[-3000:]
                names = [line.split(":", 1)[1].strip() for line in detail.splitlines() if line.startswith("- story:")]
                raise StepFailed(
                    f"{len(names) or 'some'} conversation test(s) failed"
                    + (f": {', '.join(names)}" if names else "")
                    + f".\nWhat the bot did instead (marked '# predicted'):\n{detail[-3000:]}"
                )
        self.out("   conversation tests: all passed")
        if self.gate:
            result = run_gate()
            if not result.passed:
                raise StepFailed("the NLU gate failed: " + "; ".join(result.failures))

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
    parser.add_argument("--finetune", action="store_true", help="continue from the current model (faster)")
    parser.add_argument("--epoch-fraction", type=float, default=0.3, help="with --finetune (default 0.3)")
    parser.add_argument("--no-gate", action="store_true", help="skip the NLU gate (it trains its own model)")
    parser.add_argument("--conversation-tests", type=Path, default=PROJECT_ROOT / "tests" / "conversations")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the local server to switch")
    parser.add_argument("--model", type=Path, help="ship this trained model instead of training one")
    args = parser.parse_args(argv)
    ship = Ship(Settings.from_env(), finetune=args.finetune, epoch_fraction=args.epoch_fraction, gate=not args.no_gate,
                conversation_tests=args.conversation_tests, wait_live_seconds=0 if args.no_wait else 120,
                model=args.model)
    result = ship.run()
    return 0 if result.published else 1


if __name__ == "__main__":
    sys.exit(main())
