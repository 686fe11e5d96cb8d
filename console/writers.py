"""The writers' flow charts: every story and rule of the bot, drawn from the project's data files.

``GET /console/writers`` lists the flows (which intents start them, which lead
to a form or to a person) and ``GET /console/writers/flows/<slug>`` draws one.
Both read the data afresh on every request (:mod:`writers.flows`, drawn by
:mod:`writers.flow_svg`), so a writer always sees what the files say now.
``?lang=he``, ``?lang=en`` or ``?lang=both`` (the default) picks the
languages of the labels; the chart's own words (tags, conditions and memory
steps in plain words, start and end) follow the writer's console language.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Optional, Tuple

from markupsafe import Markup
from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from console.auth import require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import render, ui_language
from writers.flow_svg import render_svg
from writers.flows import LANGUAGES, Flow, Flows, build_overview, load_flows

__all__ = ["LANG_CHOICES", "ROLES", "bp", "content_root", "label_languages"]

bp = Blueprint("console_flows", url_prefix="/console/writers", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
ROLES = ("writer", "supervisor")
LANG_CHOICES = ("both", "en", "he")
_SLUG = re.compile(r"^[a-z0-9-]{1,100}$")


def content_root(request: Request) -> Path:
    """The project whose ``data/`` and ``domain/`` the writers' pages read (``settings.content_dir``)."""
    return Path(state(request).settings.content_dir)


def label_languages(request: Request) -> Tuple[str, Tuple[str, ...]]:
    """The ``?lang=`` choice (``both`` when missing or unknown) and the label languages it means."""
    choice = str(request.args.get("lang", "both"))
    if choice not in LANG_CHOICES:
        choice = "both"
    return choice, (LANGUAGES if choice == "both" else (choice,))


async def _flows(request: Request) -> Flows:
    # Reading ~40 small YAML files and the text catalog takes a few tens of milliseconds: off the event loop.
    # The chart's own words come from the console's catalog, in the writer's console language.
    return await asyncio.get_running_loop().run_in_executor(
        None, load_flows, content_root(request), ui_language(request), state(request).texts)


@bp.get("/")
@require_role(*ROLES)
async def overview_page(request: Request) -> HTTPResponse:
    """Every flow: the intents that start them, and the flows of each file with where they lead."""
    choice, languages = label_languages(request)
    flows = await _flows(request)
    return render(request, "console/writers.html", overview=build_overview(flows), lang=choice,
                  languages=languages)


@bp.get("/flows/<name>")
@require_role(*ROLES)
async def flow_page(request: Request, name: str) -> HTTPResponse:
    """One flow's chart (a 404 page naming the flow when there is none by that name)."""
    choice, languages = label_languages(request)
    found = await _flows(request)
    flow = found.flow(name) if _SLUG.match(name) else None
    if flow is None:
        return render(request, "console/writers_flow.html", status=404, flow=None, name=name, svg="",
                      lang=choice, languages=languages, previous=None, following=None)
    flows = found.flows
    index = flows.index(flow)
    previous: Optional[Flow] = flows[index - 1] if index > 0 else None
    following: Optional[Flow] = flows[index + 1] if index + 1 < len(flows) else None
    return render(request, "console/writers_flow.html", flow=flow, name=name,
                  svg=Markup(render_svg(flow, languages)), lang=choice, languages=languages,
                  previous=previous, following=following)
