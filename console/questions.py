"""The writers' page of unanswered questions: grouped, counted, and turned into training examples.

``GET /console/writers/questions`` lists what customers asked that ended in a
fallback, a question outside the shop's business, a low-confidence guess or a handoff (read from Rasa's
tracker store in Redis by :mod:`writers.unanswered`, personal data masked; the
reading is capped and the parsing and grouping run in a worker thread, never in
the service's event loop).
``POST /console/writers/questions/add`` writes one wording into
``data/nlu/<language>/`` as an example of the chosen intent
(:mod:`writers.examples`, in a worker thread: it holds a file lock while it reads and
writes); the next content check and ``make ship`` take it.

``POST /console/writers/questions/dismiss`` hides the groups named (one, or several ticked at once:
gibberish and test traffic); their wordings are remembered in Redis (:mod:`writers.dismissed`) and left
out from then on. Answers customers rejected ("that's not what I asked", a thumbs-down in the widget) are
listed as misses with the answer they rejected. The "add as an example of" list starts on a placeholder:
the writer chooses the intent, the bot's guess is only shown; but when customers sent the FAQ question the
bot offered them ("is this what you're asking?"), they said what they meant, and that FAQ is chosen.

``?q=<wording>`` (the manager's dashboard links its "top unanswered" rows here)
puts the groups with that wording first and marks them. Managers may read the
page; adding examples stays with writers and supervisors.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from console.auth import current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import render, say
from console.writers import content_root
from core.errors import InvalidInput
from core.language import is_language
from writers.dismissed import DismissedWordings
from writers.examples import ExampleError, add_example
from writers.project import Project
from writers.unanswered import QuestionGroup, unanswered

__all__ = ["bp", "find_wording", "known_intents"]

log = logging.getLogger(__name__)

bp = Blueprint("console_questions", url_prefix="/console/writers/questions", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
ROLES = ("writer", "supervisor")
READERS = (*ROLES, "manager")
_NOT_WORD = re.compile(r"[^\w\s]+")
# Intents a customer question should not be filed under.
_NOT_FOR_QUESTIONS = {"nlu_fallback", "affirm", "deny", "inform"}
MAX_DISMISS = 200  # the page lists at most 200 groups


def known_intents(project: Path) -> List[str]:
    """The domain's intents and the FAQ (retrieval) intents of the NLU files, sorted."""
    reader = Project(project)
    retrieval = {block.intent for block in reader.intent_blocks if "/" in block.intent}
    # a retrieval intent itself (faq) is not offered: its examples are under faq/<name>
    bases = {intent.split("/")[0] for intent in retrieval}
    return sorted((set(reader.domain.intents) - bases | retrieval) - _NOT_FOR_QUESTIONS)


def _plain(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def find_wording(groups: List[QuestionGroup], wording: str) -> Tuple[List[QuestionGroup], int]:
    """The groups with those having ``wording`` first, and how many have it.

    A group has it when one of its wordings equals it or holds it (or is held by it), case, punctuation
    and spacing aside: the dashboard shows a wording as the event log kept it, masked like here.
    """
    wanted = _plain(wording)
    if not wanted:
        return groups, 0

    def has(group: QuestionGroup) -> bool:
        return any(wanted in plain or (plain and plain in wanted) for plain in map(_plain, group.variants))

    found = [g for g in groups if has(g)]
    return found + [g for g in groups if not has(g)], len(found)


@bp.get("/")
@require_role(*READERS)
async def questions(request: Request) -> HTTPResponse:
    """The grouped unanswered questions, most asked first (those with ``?q=``'s wording before them)."""
    service = state(request)
    groups = await unanswered(service.redis, service.settings.tracker_key_prefix,
                              await _dismissed(request).wordings())
    language = request.args.get("lang", "")
    if is_language(language):
        groups = [g for g in groups if g.language == language]
    wording = str(request.args.get("q", "")).strip()[:300]
    groups, found = find_wording(groups, wording)
    intents = await asyncio.get_running_loop().run_in_executor(None, known_intents, content_root(request))
    return render(request, "console/questions.html", active="questions", groups=groups[:200],
                  total=len(groups), intents=intents, language=language, wording=wording, found=found,
                  added=request.args.get("added", ""), error=request.args.get("error", ""),
                  dismissed=request.args.get("dismissed", ""))


def _dismissed(request: Request) -> DismissedWordings:
    service = state(request)
    return DismissedWordings(service.redis, service.container.keys)


@bp.post("/dismiss")
@require_role(*ROLES)
async def dismiss(request: Request) -> HTTPResponse:
    """Hides the groups named by ``group`` (their ids, one or many); 400 when none of them is listed now."""
    wanted = {str(g)[:32] for g in (request.form.getlist("group") if request.form else None) or []}
    if not wanted or len(wanted) > MAX_DISMISS:
        raise InvalidInput(say(request, "console_error_dismiss_none"))
    service = state(request)
    store = _dismissed(request)
    groups = await unanswered(service.redis, service.settings.tracker_key_prefix, await store.wordings())
    chosen = [g for g in groups if g.group_id in wanted]
    if not chosen:
        raise InvalidInput(say(request, "console_error_dismiss_none"))
    agent = current_agent(request).agent_id
    count = await store.dismiss(chosen, agent)
    log.info("writer=%s dismissed %d question groups", agent, count)
    return redirect(request.app.url_for("console_questions.questions", dismissed=str(count)))


@bp.post("/add")
@require_role(*ROLES)
async def add(request: Request) -> HTTPResponse:
    """Adds a wording as an example of an intent, then shows the list again with the result."""
    form: Dict[str, Any] = {k: (v[0] if isinstance(v, list) else v) for k, v in (request.form or {}).items()}
    text, intent, language = (str(form.get(k) or "").strip() for k in ("text", "intent", "language"))
    project = content_root(request)
    loop = asyncio.get_running_loop()
    if intent not in await loop.run_in_executor(None, known_intents, project):
        raise InvalidInput(say(request, "console_error_no_intent", intent=intent))
    try:
        path, line = await loop.run_in_executor(None, add_example, project, intent, language, text)
    except ExampleError as exc:
        return redirect(request.app.url_for("console_questions.questions", error=str(exc)))
    where = f"{path.relative_to(project)}:{line}"
    log.info("writer=%s added an example of %s at %s", current_agent(request).agent_id, intent, where)
    return redirect(request.app.url_for("console_questions.questions", added=f"{intent} · {where}"))
