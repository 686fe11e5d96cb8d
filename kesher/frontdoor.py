"""Kesher's nginx: the TLS front door and the loopback balancer, their configuration and the command that runs them.

``frontdoor/nginx.conf.template`` holds what both share; ``public.conf.template``
is the front door's TLS server (when ``KESHER_PUBLIC_HOST`` is set): only the
public routes (the web widget, WhatsApp, Telegram, the agent console) are passed
on to ``rasa run`` and the handoff service, everything else is answered 404.
``balancer.conf.template`` is one loopback server per replicated part (with
``KESHER_REPLICAS`` > 1) on that part's usual port. Which servers stand behind
each part is ``upstreams.conf``, which the supervisor rewrites with the replicas
that are up and warm (:func:`write_upstreams`) before it reloads nginx.
:func:`write_config` fills the templates in from :class:`~core.settings.Settings`
into ``var/frontdoor/``, where nginx also keeps its pid file, logs and temporary
folders; :func:`nginx_command` runs nginx in the foreground as a child of the
supervisor.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from core.settings import PROJECT_ROOT, Settings

__all__ = [
    "BALANCED", "TEMPLATE", "frontdoor_dir", "nginx_command", "public_authority", "render_config",
    "render_upstreams", "usual_port", "write_config", "write_upstreams",
]

TEMPLATE = PROJECT_ROOT / "frontdoor" / "nginx.conf.template"
_PUBLIC_TEMPLATE = PROJECT_ROOT / "frontdoor" / "public.conf.template"
_BALANCER_TEMPLATE = PROJECT_ROOT / "frontdoor" / "balancer.conf.template"
BALANCED = ("rasa", "actions", "handoff")
"""The parts nginx can stand in front of; each is the upstream ``kesher_<part>``."""
_FIELD = re.compile(r"@([A-Z_]+)@")
_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
# Host names and addresses as nginx reads them: no spaces, quotes, braces or semicolons.
_SAFE = re.compile(r"^[A-Za-z0-9.:\[\]_-]+$")


def frontdoor_dir(settings: Settings) -> Path:
    """The front door's own folder: its configuration, pid file, logs and temporary files."""
    return settings.var_dir / "frontdoor"


def public_authority(settings: Settings) -> str:
    """``host`` or ``host:port`` as browsers and Twilio write the front door's address."""
    port = settings.public_port
    return settings.public_host if port == 443 else f"{settings.public_host}:{port}"


def _checked(name: str, value: str) -> str:
    if not _SAFE.match(value):
        raise ValueError(f"{name} may hold only letters, digits and . : [ ] _ - (got {value!r})")
    return value


def _path(name: str, path: Path) -> str:
    text = str(path.resolve())
    if any(ch in text for ch in ' ;{}"\'\n\\$'):
        raise ValueError(f"{name} must be a path without spaces, quotes, braces, ';', '$' or '\\' (got {text!r})")
    return text


def _fill(template: Path, fields: Mapping[str, str]) -> str:
    text = template.read_text(encoding="utf-8")
    missing = sorted(set(_FIELD.findall(text)) - set(fields))
    if missing:
        raise ValueError(f"{template} has fields nobody fills: {missing}")
    return _FIELD.sub(lambda m: fields[m.group(1)], text)


def _public_server(settings: Settings) -> str:
    redirect = ""
    if settings.public_http_port:
        redirect = (
            "    # Plain HTTP only redirects to HTTPS.\n"
            "    server {\n"
            f"        listen {_checked('KESHER_PUBLIC_BIND', settings.public_bind)}:{settings.public_http_port};\n"
            f"        server_name {settings.public_host};\n"
            f"        location / {{ return 301 https://{public_authority(settings)}$request_uri; }}\n"
            "    }\n"
        )
    return _fill(_PUBLIC_TEMPLATE, {
        "HTTP_REDIRECT": redirect,
        "BIND": _checked("KESHER_PUBLIC_BIND", settings.public_bind),
        "PUBLIC_PORT": str(settings.public_port),
        "PUBLIC_HOST": _checked("KESHER_PUBLIC_HOST", settings.public_host),
        "TLS_CERT": _path("KESHER_TLS_CERT", settings.tls_cert),
        "TLS_KEY": _path("KESHER_TLS_KEY", settings.tls_key),
    })


def usual_port(settings: Settings, part: str) -> int:
    """The port a part listens on when it runs once, where the balancer stands in for its replicas."""
    return {"rasa": settings.rasa_port, "actions": settings.actions_port, "handoff": settings.handoff_port}[part]


def render_config(settings: Settings, balanced: Sequence[str] = ()) -> str:
    """The configuration of nginx for these settings (the templates with every field filled in).

    Args:
        settings: The front door's settings (its TLS server is included when a public host is set).
        balanced: Parts of :data:`BALANCED` that run as replicas: each gets a loopback server on its
            usual port that passes everything on to its upstream.

    Raises:
        ValueError: Neither a public host nor a balanced part is given, or a setting holds characters
            nginx would misread.
    """
    if not settings.public_host and not balanced:
        raise ValueError("nginx needs KESHER_PUBLIC_HOST (the front door) or KESHER_REPLICAS > 1 (the balancer)")
    unknown = set(balanced) - set(BALANCED)
    if unknown:
        raise ValueError(f"nginx balances only {BALANCED}, not {sorted(unknown)}")
    servers = [_fill(_BALANCER_TEMPLATE, {"PORT": str(usual_port(settings, part)), "UPSTREAM": f"kesher_{part}"})
               for part in balanced]
    if settings.public_host:
        servers.append(_public_server(settings))
    # As root (`make up` on a server), the workers drop to nobody; otherwise they run as the caller.
    user_line = "user nobody nogroup;" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    return _fill(TEMPLATE, {
        "USER_LINE": user_line,
        "VAR": _path("KESHER_VAR_DIR", frontdoor_dir(settings)),
        "MAX_BODY": settings.public_max_body,
        "SERVERS": "\n".join(servers),
    })


def render_upstreams(upstreams: Mapping[str, Sequence[int]]) -> str:
    """The ``upstream`` blocks: the loopback ports behind each part of :data:`BALANCED`.

    A part with no port (none of its replicas is ready) gets one server marked ``down``: nginx
    needs a server in every upstream and answers 502 at once.
    """
    blocks = []
    for part in BALANCED:
        ports = list(upstreams.get(part, ()))
        lines = [f"        server 127.0.0.1:{port};" for port in ports] or ["        server 127.0.0.1:1 down;"]
        blocks.append(f"upstream kesher_{part} {{\n" + "\n".join(lines) + "\n    }")
    return "# Written by the supervisor (kesher/supervisor.py): the replicas that are up and warm.\n    " + \
        "\n    ".join(blocks) + "\n"


def write_upstreams(settings: Settings, upstreams: Mapping[str, Sequence[int]]) -> Path:
    """Writes ``upstreams.conf`` (atomically: nginx may read it at any moment); returns its path."""
    path = frontdoor_dir(settings) / "upstreams.conf"
    fresh = path.with_suffix(".tmp")
    fresh.write_text(render_upstreams(upstreams), encoding="utf-8")
    fresh.replace(path)
    return path


def write_config(
    settings: Settings, balanced: Sequence[str] = (), upstreams: Optional[Mapping[str, Sequence[int]]] = None
) -> Path:
    """Writes the configuration and makes the folders nginx needs; returns the configuration's path.

    Args:
        settings: The settings.
        balanced: Parts that run as replicas behind the loopback balancer (see :func:`render_config`).
        upstreams: The ports behind each part (default: each part's usual port, where it runs once).
    """
    var = frontdoor_dir(settings)
    for sub in ["logs", *(f"temp/{name}" for name in _TEMP_DIRS)]:
        (var / sub).mkdir(parents=True, exist_ok=True)
    path = var / "nginx.conf"
    path.write_text(render_config(settings, balanced), encoding="utf-8")
    write_upstreams(settings, upstreams if upstreams is not None
                    else {part: [usual_port(settings, part)] for part in BALANCED})
    return path


def nginx_command(settings: Settings, config: Path) -> List[str]:
    """The command that runs nginx in the foreground with ``config`` (prefix: the front door's folder)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return [nginx, "-p", f"{frontdoor_dir(settings)}/", "-c", str(config), "-g", "daemon off;"]
