"""The TLS front door: nginx's configuration from the settings, and the command that runs it.

``frontdoor/nginx.conf.template`` holds the configuration: only the public
routes (the web widget, WhatsApp, Telegram, the agent console) are passed on to
``rasa run`` and the handoff service, everything else is answered 404.
:func:`write_config` fills it in from :class:`~core.settings.Settings` into
``var/frontdoor/``, where nginx also keeps its pid file, logs and temporary
folders; :func:`nginx_command` runs nginx in the foreground as a child of the
supervisor (``make up`` starts it when ``KESHER_PUBLIC_HOST`` is set).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Dict, List

from core.settings import PROJECT_ROOT, Settings

__all__ = ["TEMPLATE", "frontdoor_dir", "nginx_command", "public_authority", "render_config", "write_config"]

TEMPLATE = PROJECT_ROOT / "frontdoor" / "nginx.conf.template"
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


def render_config(settings: Settings) -> str:
    """The configuration of nginx for these settings (the template with every field filled in).

    Raises:
        ValueError: No public host is set, or a setting holds characters nginx would misread.
    """
    if not settings.public_host:
        raise ValueError("the front door needs KESHER_PUBLIC_HOST")
    var = frontdoor_dir(settings)
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
    # As root (`make up` on a server), the workers drop to nobody; otherwise they run as the caller.
    user_line = "user nobody nogroup;" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    fields: Dict[str, str] = {
        "USER_LINE": user_line,
        "VAR": _path("KESHER_VAR_DIR", var),
        "MAX_BODY": settings.public_max_body,
        "RASA_PORT": str(settings.rasa_port),
        "HANDOFF_PORT": str(settings.handoff_port),
        "HTTP_REDIRECT": redirect,
        "BIND": _checked("KESHER_PUBLIC_BIND", settings.public_bind),
        "PUBLIC_PORT": str(settings.public_port),
        "PUBLIC_HOST": _checked("KESHER_PUBLIC_HOST", settings.public_host),
        "TLS_CERT": _path("KESHER_TLS_CERT", settings.tls_cert),
        "TLS_KEY": _path("KESHER_TLS_KEY", settings.tls_key),
    }
    template = TEMPLATE.read_text(encoding="utf-8")
    missing = sorted(set(_FIELD.findall(template)) - set(fields))
    if missing:
        raise ValueError(f"{TEMPLATE} has fields nobody fills: {missing}")
    return _FIELD.sub(lambda m: fields[m.group(1)], template)


def write_config(settings: Settings) -> Path:
    """Writes the configuration and makes the folders nginx needs; returns the configuration's path."""
    var = frontdoor_dir(settings)
    for sub in ["logs", *(f"temp/{name}" for name in _TEMP_DIRS)]:
        (var / sub).mkdir(parents=True, exist_ok=True)
    path = var / "nginx.conf"
    path.write_text(render_config(settings), encoding="utf-8")
    return path


def nginx_command(settings: Settings, config: Path) -> List[str]:
    """The command that runs nginx in the foreground with ``config`` (prefix: the front door's folder)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return [nginx, "-p", f"{frontdoor_dir(settings)}/", "-c", str(config), "-g", "daemon off;"]
