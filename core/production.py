"""Production mode: Kesher refuses to face the internet with the demo's secrets.

Production mode is set with ``KESHER_MODE=production``, and implied by a
public URL (``KESHER_PUBLIC_URL``) or by a real channel credential (a Twilio
or Telegram value that differs from its demo default). Values aimed only at
this machine do not imply it: a public URL on loopback, or a provider's
credentials while its API base is a local stand-in (the tests' and the
benchmarks' fake Twilio and Telegram).

In production every process refuses to start while a setting still has its
DEMO DEFAULT value (each is marked with ``demo=`` in its ``Field`` in
``core/settings.py``, so a secret added later is covered without being listed
here), while an agent in ``handoff/agents.yml`` still has the demo agents'
shared password hash, and while Twilio is configured without a public URL.
:func:`problems` says which, one line each; :func:`check` raises them as one
:class:`ProductionRefused`. In demo mode :func:`demo_warning` is the one line
every process prints at start.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Dict, List, Sequence, Type
from urllib.parse import urlsplit

import yaml

from core.errors import KesherError
from core.settings import Settings

__all__ = [
    "DEMO_AGENT_PASSWORD_HASH",
    "ProductionRefused",
    "check",
    "demo_settings",
    "demo_values_in_use",
    "demo_warning",
    "implied_by",
    "is_production",
    "problems",
    "whatsapp_template",
]

# The one argon2 hash every demo agent in handoff/agents.yml shares (password "kesher-demo").
DEMO_AGENT_PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$ZzdhLupGsiOmA/TUkpwq8Q$+0PW93GEdRmxyh7O4kOd/iD2gpONhgx6db8isZeMN70"
)
# A channel's credentials talk to its provider's API here (settings marked ``channel=``).
_API_BASE = {"twilio": "twilio_api_base", "telegram": "telegram_api_base"}


class ProductionRefused(KesherError):
    """Production mode with a demo value, or a configuration that cannot work on the internet."""

    def __init__(self, found: Sequence[str]) -> None:
        """Keeps the problems; the message lists them one per line.

        Args:
            found: What :func:`problems` returned.
        """
        self.problems = list(found)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"Kesher refuses to start in production mode ({len(self.problems)} problem(s)):\n{lines}")


def demo_settings(settings_class: Type[Settings] = Settings) -> Dict[str, str]:
    """Every setting with a DEMO DEFAULT → what to set it to instead (its ``demo=`` mark)."""
    return {name: str(f.field_info.extra["demo"]) for name, f in settings_class.__fields__.items()
            if f.field_info.extra.get("demo")}


def _variable(settings: Settings, name: str) -> str:
    return str(type(settings).__fields__[name].field_info.extra["env"])


def _has_demo_value(settings: Settings, name: str) -> bool:
    return bool(getattr(settings, name) == type(settings).__fields__[name].default)


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def demo_values_in_use(settings: Settings) -> List[str]:
    """The variables whose value is still their DEMO DEFAULT, in the settings' order."""
    return [_variable(settings, name) for name in demo_settings(type(settings)) if _has_demo_value(settings, name)]


def _real_channel_credentials(settings: Settings) -> List[str]:
    """Variables of channel credentials set to a value of their own for the real provider."""
    found = []
    for name, f in type(settings).__fields__.items():
        channel = f.field_info.extra.get("channel")
        if not channel or _has_demo_value(settings, name):
            continue
        if not _is_loopback(str(getattr(settings, _API_BASE[str(channel)]))):
            found.append(_variable(settings, name))
    return found


def _twilio_configured(settings: Settings) -> bool:
    return any(not _has_demo_value(settings, name) for name, f in type(settings).__fields__.items()
               if f.field_info.extra.get("channel") == "twilio")


def implied_by(settings: Settings) -> List[str]:
    """Why the settings mean production even without ``KESHER_MODE=production`` (empty: they do not)."""
    reasons = []
    if settings.public_url and not _is_loopback(settings.public_url):
        reasons.append("KESHER_PUBLIC_URL is set")
    reasons += [f"{variable} is a real credential" for variable in _real_channel_credentials(settings)]
    return reasons


def is_production(settings: Settings) -> bool:
    """Whether Kesher runs in production mode: set explicitly, or implied (see :func:`implied_by`)."""
    return settings.mode == "production" or bool(implied_by(settings))


def demo_agents(agents_file: Path) -> List[str]:
    """Ids of the agents in ``agents_file`` whose password hash is the demo agents' shared one."""
    if not agents_file.is_file():
        return []
    data = yaml.safe_load(agents_file.read_text(encoding="utf-8")) or {}
    agents = data.get("agents") or {} if isinstance(data, dict) else {}
    return sorted(str(agent_id) for agent_id, raw in agents.items()
                  if isinstance(raw, dict) and raw.get("password_hash") == DEMO_AGENT_PASSWORD_HASH)


def problems(settings: Settings) -> List[str]:
    """Why Kesher must not start with these settings, one line each (empty in demo mode or when all is set).

    Args:
        settings: The process's settings.

    Returns:
        One sentence per problem, naming the variable (or agent) and what to do.
    """
    if not is_production(settings):
        return []
    found = [f"{_variable(settings, name)} still has its demo value: set it to {hint}"
             for name, hint in demo_settings(type(settings)).items() if _has_demo_value(settings, name)]
    for agent_id in demo_agents(settings.agents_file):
        found.append(f"agent {agent_id!r} in {settings.agents_file} still has the demo password (kesher-demo): "
                     f"set a new one with `python -m kesher add-agent {agent_id}`, or remove the agent")
    if _twilio_configured(settings) and not settings.public_url:
        found.append("TWILIO_* credentials are set but KESHER_PUBLIC_URL is not: Twilio signs every webhook "
                     "against the public URL it calls, so behind a TLS proxy every genuine WhatsApp message would "
                     "get 403; set KESHER_PUBLIC_URL to the public HTTPS base URL, e.g. https://chat.shop.co.il")
    return found


def check(settings: Settings) -> None:
    """Refuses production settings that are unsafe or cannot work.

    Raises:
        ProductionRefused: :func:`problems` found something; its message names each.
    """
    found = problems(settings)
    if found:
        raise ProductionRefused(found)


def demo_warning(settings: Settings) -> str:
    """The one line a process prints at start in demo mode ("" in production)."""
    if is_production(settings):
        return ""
    used = demo_values_in_use(settings)
    if demo_agents(settings.agents_file):
        used.append("the demo agents' password")
    if not used:
        return ""
    return (f"*** DEMO MODE: demo secrets in use ({', '.join(used)}); not safe on the internet. "
            "Set them and KESHER_MODE=production before going live. ***")


def whatsapp_template(settings: Settings, name: str, language: str) -> str:
    """The Content SID of an approved WhatsApp template (``late_order``, ``agent_reply``, ``csat``); "" if none.

    The built-in placeholders (``TWILIO_CONTENT_*``'s DEMO DEFAULTS) count as none in production mode: Twilio
    would refuse them, and an unset template has an honest fallback (e-mail only; the console's undelivered page;
    the rating question as numbered text).
    """
    field = f"twilio_content_{name}_{'he' if language == 'he' else 'en'}"
    if field not in Settings.__fields__:
        return ""
    sid = str(getattr(settings, field) or "")
    if sid == Settings.__fields__[field].default and is_production(settings):
        return ""
    return sid
