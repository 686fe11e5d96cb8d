"""The content writers' loop on the real stack: unanswered questions from Redis, an example added, a ship.

The stack's handoff service and this test work on a copy of the content
(``stack_settings.content_dir``), so the repository's data is never changed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import httpx
import pytest
import yaml
from redis.asyncio import Redis

from core.processes import latest_model
from core.settings import Settings
from tests.console.conftest import login
from tests.helpers.stack import Customer
from tests.helpers.waiting import until_sync
from writers.model_server import publish, published
from writers.ship import Ship, model_id, wait_until_live
from writers.unanswered import unanswered

pytestmark = pytest.mark.stack

STRANGE = ["can you book me a hotel in Eilat for the weekend?", "תזמין לי מלון באילת לסוף השבוע"]


async def test_what_the_bot_did_not_answer_is_listed_masked_and_becomes_an_example(stack, stack_settings):
    customer = Customer(stack_settings)
    customer.say("hello")
    for text in STRANGE:
        customer.say(text)
    Customer(stack_settings).say("my email is noa.cohen@example.com, can you book me a hotel in Eilat for the weekend?")

    redis = Redis(port=stack_settings.redis_port, decode_responses=True)
    try:
        groups = await unanswered(redis, stack_settings.tracker_key_prefix)
    finally:
        await redis.close()
    texts = [v for g in groups for v in g.variants]
    assert STRANGE[0] in texts and STRANGE[1] in texts
    assert not any("noa.cohen" in t for t in texts)
    masked = next(t for t in texts if "@" in t)
    assert "•••@•••" in masked and "hotel in Eilat" in masked
    english = next(g for g in groups if STRANGE[0] in g.variants)
    assert english.language == "en" and english.count >= 2  # the masked-e-mail wording joined it
    assert set(english.reasons) <= {"fallback", "out_of_scope", "low_confidence", "no_answer", "handoff"}
    assert "hello" not in texts  # answered questions are not listed

    # A writer sees them on the writers' page and files the Hebrew one under out_of_scope.
    nlu = stack_settings.content_dir / "data" / "nlu" / "he" / "core.yml"
    saved = nlu.read_text(encoding="utf-8")
    try:
        await _add_as_example(stack_settings)
        examples = next(i["examples"] for i in yaml.safe_load(nlu.read_text(encoding="utf-8"))["nlu"]
                        if i.get("intent") == "out_of_scope")
        assert f"- {STRANGE[1]}" in examples.splitlines()
        # Everything else in the file is as it was: one line more, comments and order kept.
        assert nlu.read_text(encoding="utf-8").splitlines() == [
            *saved.splitlines()[:_line_of(nlu, STRANGE[1]) - 1], f"    - {STRANGE[1]}",
            *saved.splitlines()[_line_of(nlu, STRANGE[1]) - 1:]]
    finally:
        nlu.write_text(saved, encoding="utf-8")  # the other tests train on unchanged content


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if line.strip() == f"- {text}")


async def _add_as_example(stack_settings: Settings) -> None:
    async with httpx.AsyncClient(base_url=stack_settings.handoff_url, timeout=30) as http:
        csrf = await login(http, "maya", landing="/console/writers/questions")
        page = await http.get("/console/writers/questions")
        assert page.status_code == 200 and STRANGE[1] in page.text and "noa.cohen" not in page.text
        added = await http.post("/console/writers/questions/add", data={
            "csrf_token": csrf, "text": STRANGE[1], "intent": "out_of_scope", "language": "he"})
        assert added.status_code == 302
        shown = await http.get(added.headers["location"])
        assert "Added as an example of out_of_scope" in shown.text


@dataclass
class Chatter:
    """A customer who keeps chatting in a thread while the model is swapped."""

    settings: Settings
    marker: str
    failures: List[str] = field(default_factory=list)
    turns: int = 0
    new_answer_at: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        customer = Customer(self.settings)
        while not self.stop.is_set():
            try:
                reply = customer.say("hello")
            except (AssertionError, OSError) as exc:
                self.failures.append(repr(exc))
                continue
            self.turns += 1
            if not reply.text:
                self.failures.append("empty answer")
            if self.marker in reply.text and not self.new_answer_at:
                self.new_answer_at = time.monotonic()


def test_make_ship_puts_a_change_live_while_customers_chat(stack, stack_settings, tmp_path: Path):
    original = latest_model(stack_settings.model_dir)
    assert original is not None
    core = stack_settings.content_dir / "domain" / "core.yml"
    before = core.read_text(encoding="utf-8")
    marker = "(ship check)"
    core.write_text(before.replace("Hi! I'm {brand}'s virtual assistant.",
                                   f"Hi! I'm {{brand}}'s virtual assistant {marker}.", 1), encoding="utf-8")
    # A conversation that started before the swap: in Hebrew, with its language in the tracker.
    ongoing = Customer(stack_settings)
    assert ongoing.say("שלום").is_hebrew()
    chatter = Chatter(stack_settings, marker)
    thread = threading.Thread(target=chatter.run, daemon=True)
    thread.start()
    try:
        lines: List[str] = []
        ship = Ship(stack_settings, gate=False, wait_live_seconds=120, model_dir=tmp_path / "models",
                    out=lines.append)
        result = ship.run()
        assert result.published is not None, "\n".join(lines)
        assert any("live on" in line for line in lines), "\n".join(lines)
        until_sync(lambda: chatter.new_answer_at, what="the new greeting in a customer's chat", timeout=60,
                   every=0.2)
    finally:
        chatter.stop.set()
        thread.join(timeout=120)
        core.write_text(before, encoding="utf-8")
    assert chatter.failures == [] and chatter.turns > 10
    # The conversation from before the swap carries on with its tracker (still Hebrew, no new session).
    assert ongoing.slots()["language"] == "he"
    assert ongoing.say("תודה").is_hebrew()

    # Put the original model back for the other tests.
    publish(original, stack_settings.published_dir)
    assert wait_until_live(stack_settings, model_id(original), 120) is not None


def test_a_model_that_fails_its_conversation_tests_is_not_published(stack, stack_settings, tmp_path: Path):
    stories = tmp_path / "conversations"
    stories.mkdir()
    (stories / "test_wrong.yml").write_text(  # Rasa reads test stories from files named test_*
        'version: "3.1"\nstories:\n- story: greeting answered with a goodbye\n  steps:\n'
        "  - user: |\n      hello\n    intent: greet\n  - action: utter_goodbye\n", encoding="utf-8")
    before = published(stack_settings.published_dir)
    lines: List[str] = []
    candidate = latest_model(stack_settings.model_dir)
    result = Ship(stack_settings, gate=False, conversation_tests=stories, wait_live_seconds=0, model=candidate,
                  out=lines.append).run()
    assert result.published is None and result.failed_step == "test"
    assert "greeting answered with a goodbye" in result.reason
    assert any("NOT PUBLISHED" in line for line in lines)
    assert published(stack_settings.published_dir) == before
