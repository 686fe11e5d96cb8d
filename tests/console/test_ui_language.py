"""The console speaks the agent's language: every word from the catalog, Hebrew right to left, counts in plural forms.

The service here runs in the test's process (its own agents file): Rina reads
the console in Hebrew (``ui_language: he``), Eli has no language of his own and
gets the ``console_language`` setting. Expected words are read from the catalog.
"""

from __future__ import annotations

import io
import itertools
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Set, Tuple

import httpx
import pytest
import yaml
from markupsafe import Markup

from connectors.web import widget_script
from console import dashboard
from console.app import create_app
from console.web import html_text
from core.bidi import strip_controls
from core.language import Language
from core.service_events import TurnOutcome
from core.settings import PROJECT_ROOT, Settings
from core.texts import TextCatalog, arguments_of
from edge.browser import message_format_js
from handoff.agents import ROLES, hash_password, load_agents
from handoff.callbacks import OUTCOMES as CALLBACK_OUTCOMES
from handoff.desk import BOT_ERROR
from handoff.policy import Trigger, load_policy
from kesher.add_agent import add_agent_cli, upsert_agent
from tests.console.conftest import PASSWORD, english_request, hebrew_request, new_cid
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from tests.helpers.screenshots import row_ink
from tests.helpers.texts import catalog
from wiring.container import Container

TEMPLATES = PROJECT_ROOT / "console" / "templates" / "console"
CONSOLE_JS = PROJECT_ROOT / "console" / "static" / "console.js"
WIDGET_JS = PROJECT_ROOT / "connectors" / "web_static" / "widget.js"
PYTHON = [PROJECT_ROOT / "console" / name
          for name in ("routes.py", "auth.py", "mailbox.py", "middleware.py", "questions.py", "dashboard.py",
                       "desk_api.py", "web.py")]
# The customer panel's order actions (#17): their script and the modules that name their texts.
ORDER_ACTIONS_JS = PROJECT_ROOT / "console" / "static" / "actions.js"
ORDER_ACTIONS_PY = [PROJECT_ROOT / "console" / "order_actions.py",
                    PROJECT_ROOT / "actions" / "orders" / "agent_service.py"]
# The supervisor's view, presence and callback requests (#17, #18): their scripts and modules.
MORE_JS = [PROJECT_ROOT / "console" / "static" / name for name in ("supervisor.js", "presence.js")]
MORE_PY = [PROJECT_ROOT / "console" / name for name in ("callbacks.py", "supervisor.py", "presence.py", "uploads.py")]
_names = itertools.count()


# -- every key is in the catalog ----------------------------------------------------------------
def _keys_in(source: str, pattern: str) -> Set[str]:
    return set(re.findall(pattern, source))


def _used_keys() -> Tuple[Set[str], Set[str]]:
    """Keys the pages, scripts and refusals use, and prefixes they complete with a code."""
    keys: Set[str] = set()
    prefixes: Set[str] = set()
    for path in sorted(TEMPLATES.glob("*.html")) + PYTHON:
        source = path.read_text(encoding="utf-8")
        blueprints = _keys_in(source, r'Blueprint\(\s*"([a-z_]+)"')
        keys |= _keys_in(source, r"""["'](console_[a-z0-9_]*[a-z0-9])["']""") - blueprints
        prefixes |= _keys_in(source, r"""["'](console_[a-z0-9_]+_)["'{]""")
    script = CONSOLE_JS.read_text(encoding="utf-8")
    keys |= {f"console_{k}" for k in _keys_in(script, r"""\bt\(\s*"([a-z0-9_]+)\"""")}
    prefixes |= {f"console_{k}" for k in _keys_in(script, r"""\blabel\(\s*"([a-z0-9_]+_)\"""")}
    keys |= {f"widget_{k}" for k in _keys_in(WIDGET_JS.read_text(encoding="utf-8"), r"""\bt\(\s*"([a-z0-9_]+)\"""")}
    for module in (ORDER_ACTIONS_JS, *MORE_JS):
        source = module.read_text(encoding="utf-8")
        keys |= {f"console_{k}" for k in _keys_in(source, r"""\bt\(\s*"([a-z0-9_]+)\"""")}
        keys |= {f"console_{k}" for k in _keys_in(source, r"""\btexts\.([a-z0-9_]+)""")}
    for path in (*ORDER_ACTIONS_PY, *MORE_PY):
        source = path.read_text(encoding="utf-8")
        if path in MORE_PY:
            prefixes |= _keys_in(source, r"""["'](console_[a-z0-9_]+_)["'{]""")
        keys |= _keys_in(source, r"""["'](console_[a-z0-9_]*[a-z0-9])["']""") - _keys_in(
            source, r'Blueprint\(\s*"([a-z_]+)"')
    return keys, prefixes


def test_every_key_the_pages_scripts_and_refusals_use_has_both_languages() -> None:
    texts = catalog()
    keys, prefixes = _used_keys()
    assert len(keys) > 150 and {"console_take", "console_refusal_full", "widget_unread"} <= keys
    missing = sorted(k for k in keys if k not in texts)
    assert missing == []
    incomplete = sorted(k for k in keys if set(texts.entry(k).variations) != {"he", "en"})
    assert incomplete == []
    # The codes the pages name through a prefix (label("console_reason_", code)) all have a name.
    codes = {
        "console_reason_": [t.value for t in Trigger] + [BOT_ERROR],
        "console_resolution_": list(load_policy(Settings().handoff_policy).resolution_codes),
        "console_role_": list(ROLES),
        "console_flow_kind_": ["story", "rule"],
        "console_callback_outcome_": list(CALLBACK_OUTCOMES),
        "console_question_reason_": ["fallback", "out_of_scope", "low_confidence", "no_answer", "handoff",
                                     "rejected", "answer_rejected"],
        "console_supervisor_presence_": ["online", "away", "offline"],
        # the desk's routing topics (handoff/policy.yml, "general" when none) and teams (handoff/agents.yml)
        "console_topic_": [*load_policy(Settings().handoff_policy).topics, "general"],
        "console_team_": list(load_agents(Settings().agents_file).teams),
        # the dashboard (console/dashboard.py names each card's figures, measures and series)
        "console_dash_period_": list(dashboard.PERIODS),
        "console_dash_channel_": list(dashboard.CHANNELS),
        "console_dash_language_": ["he", "en"],
        "console_dash_by_": list(dashboard.BREAKDOWNS),
        "console_dash_col_": [column for column, _ in dashboard.BREAKDOWN_COLUMNS],
        "console_dash_daily_": ["turns", "contacts", "contained", "handoffs", "fallbacks", "csat_avg"],
        "console_dash_outcome_": [outcome.value for outcome in TurnOutcome],
        "console_kpi_": [*dashboard.CARDS, *(f"{kpi}_help" for kpi in dashboard.CARDS)],
        "console_dash_figure_": ["rate", "contained", "contacts", "handoffs", "p50", "p90", "count", "avg",
                                 "resolved", "abandoned", "queued", "fallbacks", "turns"],
        "console_dash_measure_": ["p50", "p90", "avg"],
        "console_dash_csat_": ["bot", "agent"],
    }
    assert prefixes == set(codes)
    assert sorted(p + c for p, names in codes.items() for c in names if p + c not in texts) == []
    # Nothing in the catalog's console and widget parts is left unused.
    named = keys | {p + c for p, names in codes.items() for c in names}
    assert sorted(set(texts.keys("console_") + texts.keys("widget_")) - named) == []


def test_no_page_or_script_still_says_it_in_english_itself() -> None:
    texts = catalog()
    sources = {path.name: path.read_text(encoding="utf-8")
               for path in [*TEMPLATES.glob("*.html"), CONSOLE_JS, WIDGET_JS, *PYTHON]}
    left: List[str] = []
    for key in texts.keys("console_") + texts.keys("widget_"):
        english = texts.entry(key).variations["en"][0].text
        if arguments_of(english) or len(english.split()) < 3:
            continue  # short words ("Send") may be anything in code
        left += [f"{name}: {english!r} ({key})" for name, source in sources.items() if english in source]
    assert left == []


def test_a_page_text_escapes_its_values_once_and_keeps_markup(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "t.yml").write_text(
        'texts:\n  hi:\n    en: "Hi {name} & co, {n, plural, one {# message} other {# messages}} in {where}"\n'
        '    he: "שלום {name} ושות\', {n, plural, one {הודעה אחת} other {# הודעות}} ב-{where}"\n',
        encoding="utf-8")
    texts = TextCatalog.load(folder)
    html = html_text(texts, "hi", "en", name='<b onclick="x">Eve</b>', n=2, where=Markup("<code>a&lt;b</code>"))
    assert html == ('Hi &lt;b onclick=&#34;x&#34;&gt;Eve&lt;/b&gt; &amp; co, 2 messages in <code>a&lt;b</code>')
    hebrew = html_text(texts, "hi", "he", name="דנה", n=1, where="x")
    assert strip_controls(hebrew) == "שלום דנה ושות&#39;, הודעה אחת ב-x"


# -- the scripts format texts as the catalog does ----------------------------------------------
@needs_chromium
async def test_the_scripts_fill_every_text_as_the_catalog_does_in_both_languages() -> None:
    # One formatter: the widget is served with it, the console's desk loads it before its own script.
    assert message_format_js() in widget_script(catalog()).decode("utf-8")
    desk = (TEMPLATES / "desk.html").read_text(encoding="utf-8")
    assert desk.index("/console/lib/message-format.js") < desk.index("/console/static/console.js")
    texts = catalog()
    cases: List[Tuple[str, str, Dict[str, Any]]] = []
    expected: List[str] = []
    for key in texts.keys("console_") + texts.keys("widget_") + texts.keys("queued") + texts.keys("contact"):
        for language in ("he", "en"):
            text = texts.entry(key).variations[language][0].text
            kinds = arguments_of(text)
            counts = (0, 1, 2, 3, 10, 11, 20, 21, 101) if "plural" in kinds.values() else (1,)
            for n in counts:
                values = {name: n if kind == "plural" else f"<{name}>" for name, kind in kinds.items()}
                cases.append((language, text, values))
                expected.append(texts.text(key, language, **values))
    run = ("cases => {\n" + message_format_js()
           + "\nreturn cases.map(([language, text, values]) => kesherMessageFormat.format(text, values, language));\n}")
    async with chromium() as browser:
        page = await browser.new_page()
        filled = await page.evaluate(run, cases)
    assert len(cases) > 500
    assert [c for c, got, want in zip(cases, filled, expected, strict=True) if got != want] == []


# -- the agent's language ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def agents_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("agents") / "agents.yml"
    password = hash_password(PASSWORD)
    upsert_agent(path, "rina", password, name="Rina Azulay", languages=["he"], capacity=2, ui_language="he")
    upsert_agent(path, "eli", password, name="Eli Brown", languages=["en"], capacity=1)
    return path


@asynccontextmanager
async def _service(redis_server: RedisServer, agents_file: Path, tmp_path: Path,
                   console_language: Language = "en") -> AsyncIterator[Tuple[str, Container]]:
    settings = Settings(var_dir=tmp_path, agents_file=agents_file, mail_dir=tmp_path / "mail",
                        console_language=console_language).with_ports(redis=redis_server.port, rasa=1, actions=1)
    container = Container(settings)
    app = create_app(settings, container=container, name=f"console_language_{next(_names)}", auto_assign=False)
    async with serving(app) as base:
        yield base, container


async def _login(client: httpx.AsyncClient, agent_id: str) -> str:
    form = await client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = await client.post("/console/login", data={"agent_id": agent_id, "password": PASSWORD,
                                                      "csrf_token": token.group(1)})
    assert done.status_code == 303, done.text
    desk = await client.get("/console")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', desk.text)
    assert csrf is not None
    await client.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf.group(1)})
    return csrf.group(1)


@pytest.mark.parametrize("language", ["he", "en"])
async def test_the_login_page_speaks_the_console_language_setting(
    language: Language, redis_server: RedisServer, redis_client: Any, agents_file: Path, tmp_path: Path
) -> None:
    texts = catalog()
    async with _service(redis_server, agents_file, tmp_path, console_language=language) as (base, _), \
            httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/console/login")
        direction = "rtl" if language == "he" else "ltr"
        assert f'<html lang="{language}" dir="{direction}">' in page.text
        assert f"<h1>{texts.text('console_login_heading', language)}</h1>" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        wrong = await client.post("/console/login", data={"agent_id": "eli", "password": "not-it",
                                                           "csrf_token": token.group(1)})
    assert wrong.status_code == 401
    assert f'id="login-error">{texts.text("console_login_wrong", language)}</p>' in wrong.text


async def test_refusals_come_in_the_agents_language_with_the_right_plural(
    redis_server: RedisServer, redis_client: Any, agents_file: Path, tmp_path: Path
) -> None:
    texts = catalog()
    async with _service(redis_server, agents_file, tmp_path) as (base, container), \
            httpx.AsyncClient(base_url=base) as rina, httpx.AsyncClient(base_url=base) as eli:
        headers = {"rina": {"X-CSRF-Token": await _login(rina, "rina")},
                   "eli": {"X-CSRF-Token": await _login(eli, "eli")}}
        cids = [new_cid("full") for _ in range(4)]
        for cid in cids:
            await container.store.request(hebrew_request(cid))
        for cid in cids[:2]:
            assert (await rina.post(f"/console/api/chats/{cid}/take", headers=headers["rina"])).status_code == 200
        full = await rina.post(f"/console/api/chats/{cids[2]}/take", headers=headers["rina"])
        taken = await eli.post(f"/console/api/chats/{cids[0]}/take", headers=headers["eli"])
        assert (await eli.post(f"/console/api/chats/{cids[3]}/take", headers=headers["eli"])).status_code == 200
        eli_full = await eli.post(f"/console/api/chats/{cids[2]}/take", headers=headers["eli"])
        not_found = await rina.get("/console/api/chats/no-such-chat")
        # What the desk itself refuses (the domain's errors) is said in each agent's language too.
        not_hers = await rina.post(f"/console/api/chats/{cids[3]}/messages", json={"text": "שלום"},
                                   headers=headers["rina"])
        not_his = await eli.post(f"/console/api/chats/{cids[0]}/close", json={"resolution": "resolved"},
                                 headers=headers["eli"])
    # Rina holds two: the Hebrew "two" form, not "# שיחות"; Eli (the setting: English) holds one.
    assert full.status_code == 409 and full.json()["error"] == texts.text("console_refusal_full", "he", capacity=2)
    assert "שתי שיחות" in full.json()["error"]
    assert eli_full.json()["error"] == texts.text("console_refusal_full", "en", capacity=1)
    assert "1 conversation," in eli_full.json()["error"]
    assert taken.json()["error"] == texts.text("console_refusal_taken", "en", agent="Rina Azulay")
    assert not_found.json()["error"] == texts.text("console_error_no_conversation", "he", cid="no-such-chat")
    assert not_hers.status_code == 403 and not_hers.json()["error"] == texts.text("desk_error_not_owner", "he")
    assert not_his.status_code == 403 and not_his.json()["error"] == texts.text("desk_error_not_owner", "en")


@needs_chromium
async def test_an_agent_whose_language_is_hebrew_sees_the_desk_in_hebrew_right_to_left(
    redis_server: RedisServer, redis_client: Any, agents_file: Path, tmp_path: Path
) -> None:
    texts = catalog()

    def he(key: str, **values: Any) -> str:
        return texts.text(key, "he", **values)

    async with _service(redis_server, agents_file, tmp_path) as (base, container), chromium() as browser:
        context = await browser.new_context(base_url=base, viewport={"width": 1440, "height": 900}, locale="en-GB")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        errors: List[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto("/console/login")
        assert await page.locator("h1").text_content() == texts.text("console_login_heading", "en")  # the setting
        await page.fill("#agent_id", "rina")
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_selector('#conn[data-state="live"]')

        # The page itself (the template) and what its script writes, in Hebrew, right to left.
        html = page.locator("html")
        assert (await html.get_attribute("lang"), await html.get_attribute("dir")) == ("he", "rtl")
        assert await page.locator("#conn").text_content() == he("console_conn_live")
        assert (await page.locator("#queue-title").text_content() or "").startswith(he("console_queue_title"))
        assert await page.get_attribute("#composer-text", "placeholder") == he("console_composer_placeholder")
        await page.click('#presence button[data-status="online"]')
        await page.wait_for_selector('#presence[data-status="online"]')

        cid = new_cid("ui-he")
        await container.store.request(hebrew_request(cid))
        row = page.locator(f'#queue-body tr[data-cid="{cid}"]')
        await row.wait_for()
        assert await row.locator("button.take").text_content() == he("console_take")
        assert he("console_reason_complaint_frustration") in (await row.text_content() or "")
        await row.locator("button.take").click()
        await page.wait_for_selector('#chat-state[data-state="with_agent"]')
        assert await page.locator("#chat-state").text_content() == he("console_chat_state_mine")
        reason = he("console_reason_complaint_frustration")
        divider = page.locator("#handoff-divider")
        await divider.filter(has_text=re.compile(r"\S")).wait_for(state="attached")  # CSP: no polled eval
        assert await divider.text_content() == he("console_divider_reason", reason=reason)
        state_line = page.locator("#events .state-line", has_text=he("console_state_taken", agent="Rina Azulay"))
        await state_line.wait_for()

        # An English customer's chat is English, but the desk around it stays Hebrew.
        other = new_cid("ui-en")
        await container.store.request(english_request(other))
        await page.locator(f'#queue-body tr[data-cid="{other}"]').wait_for()

        # As drawn: the queue's heading reads from the right edge of its column.
        heading = await row_ink(page, page.locator("#queue-title"), page.locator(".queue-section"),
                                path=tmp_path / "console-desk-hebrew.png")
        width = heading.box["width"]
        assert heading.right_gap < 0.06 * width and heading.left_gap > 0.5 * width, heading
        assert errors == []
        await context.close()


# -- the agents file and add-agent -----------------------------------------------------------------
def test_add_agent_sets_the_console_language_and_the_loader_checks_it(tmp_path: Path) -> None:
    path = tmp_path / "agents.yml"
    argv = ["noa", "--name", "Noa Levi", "--ui-language", "he", "--password-stdin", "--file", str(path)]
    assert add_agent_cli(argv, stdin=io.StringIO("a-long-password\n")) == 0
    assert add_agent_cli(["omri", "--name", "Omri", "--password-stdin", "--file", str(path)],
                         stdin=io.StringIO("a-long-password\n")) == 0
    agents = load_agents(path)
    assert agents.get("noa") is not None and agents.get("noa").ui_language == "he"  # type: ignore[union-attr]
    assert agents.get("omri") is not None and agents.get("omri").ui_language is None  # type: ignore[union-attr]
    # a new password keeps the language; --ui-language en changes it
    assert add_agent_cli(["noa", "--password-stdin", "--file", str(path)], stdin=io.StringIO("another-password\n")) == 0
    assert load_agents(path).get("noa").ui_language == "he"  # type: ignore[union-attr]
    assert add_agent_cli(["noa", "--ui-language", "en", "--password-stdin", "--file", str(path)],
                         stdin=io.StringIO("another-password\n")) == 0
    assert load_agents(path).get("noa").ui_language == "en"  # type: ignore[union-attr]
    with pytest.raises(SystemExit):
        add_agent_cli(["noa", "--ui-language", "fr", "--password-stdin", "--file", str(path)])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["agents"]["noa"]["ui_language"] = "fr"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"noa.*ui_language"):
        load_agents(path)


def test_the_demo_agents_keep_the_console_in_english() -> None:
    assert [a.agent_id for a in load_agents(PROJECT_ROOT / "handoff" / "agents.yml").all() if a.ui_language] == []
