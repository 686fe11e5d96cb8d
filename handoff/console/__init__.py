"""The agent console of the handoff service: login, the desk, live updates, the mail pages.

``setup_console(app)`` attaches it to the app ``handoff.app.create_app`` builds.
It expects, once the server has started, ``app.ctx.redis`` (asyncio client with
``decode_responses=True``), ``app.ctx.store``, ``app.ctx.desk``,
``app.ctx.agents``, ``app.ctx.policy`` and ``app.ctx.settings``, and adds
``app.ctx.jinja``, ``app.ctx.canned``, ``app.ctx.console_sessions``,
``app.ctx.console_limiter`` and ``app.ctx.console_hub``.

Pages for other roles (the writers' pages of later issues) use
:func:`handoff.console.auth.require_role` and :func:`handoff.console.web.render`
on a Blueprint with the console's middleware (``handoff.console.middleware``).
"""

from __future__ import annotations

import os
from typing import Any

from sanic import Sanic

from handoff.console.auth import LoginLimiter, SessionStore, require_role
from handoff.console.canned import load_canned
from handoff.console.web import attach_jinja, render

__all__ = ["render", "require_role", "setup_console"]


def setup_console(app: Sanic) -> None:
    """Registers the console's Blueprints, static files, templates and websocket on ``app``.

    Args:
        app: The handoff service (see the module docstring for what it must provide).
    """
    from handoff.console import live, mail, questions, routes, writers

    attach_jinja(app)
    app.ctx.canned = load_canned()
    app.config.CONSOLE_COOKIE_SECURE = os.environ.get("KESHER_COOKIE_SECURE", "auto")
    app.blueprint(routes.bp)
    app.blueprint(mail.bp)
    app.blueprint(writers.bp)
    app.blueprint(questions.bp)

    @app.before_server_start
    async def _console_state(app: Sanic, _loop: Any) -> None:
        keys = app.ctx.store.keys
        app.ctx.console_sessions = SessionStore(app.ctx.redis, keys)
        app.ctx.console_limiter = LoginLimiter(app.ctx.redis, keys)

    live.setup_live(app)
