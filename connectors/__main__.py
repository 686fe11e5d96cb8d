"""Channel administration: ``python -m connectors telegram-webhook --url https://.../webhooks/telegram/webhook``.

Registering a webhook talks to the provider, so it is a command an operator
runs once, not something the server does while it builds its channels.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import List, Optional

from telegram.error import TelegramError

from bot.settings import Settings
from connectors.telegram import TelegramChannel


async def _telegram_webhook(url: str, delete: bool, settings: Settings) -> str:
    channel = TelegramChannel(settings.telegram_token, settings.telegram_secret_token, settings.telegram_api_base)
    bot = channel.make_bot()
    async with bot:
        if delete:
            await bot.delete_webhook()
        else:
            await bot.set_webhook(url, secret_token=settings.telegram_secret_token,
                                  allowed_updates=["message", "callback_query"])
        info = await bot.get_webhook_info()
    return f"webhook: {info.url or '(none)'}; pending updates: {info.pending_update_count}"


def main(argv: Optional[List[str]] = None) -> int:
    """Runs one admin command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m connectors", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tg = commands.add_parser("telegram-webhook", help="register (or --delete) the Telegram webhook")
    group = tg.add_mutually_exclusive_group(required=True)
    group.add_argument("--url", help="public HTTPS URL of /webhooks/telegram/webhook")
    group.add_argument("--delete", action="store_true", help="remove the webhook")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(_telegram_webhook(args.url or "", args.delete, Settings.from_env())))
    except TelegramError as exc:
        print(f"Telegram refused: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
