"""Which of the turn benchmark's messages cost what: one customer, Kesher as ``make up`` runs it.

Run with ``python -m bench.messages --model models/<model>.tar.gz``. It starts every part as
``bench/turns.py`` does, then holds ``--conversations`` conversations of the benchmark's 12-message
script one after the other and prints each message's median and slowest reply time (the first
conversation warms up and is not counted). The p95 of a 12-message conversation is about its
second-slowest message, so this shows where a one-customer p95 comes from. ``--vanilla-script`` sends the
vanilla ``rasa init`` bot's four messages instead (the same words both bots get).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import aiohttp

from bench.turns import VANILLA_SCRIPT, Bot, _send, rest_headers, rest_url, seed, shipped_order, stack_settings
from bench.turns import kesher_script as script_of
from kesher.supervisor import Supervisor


async def _measure(bot: Bot, conversations: int) -> Dict[str, List[float]]:
    times: Dict[str, List[float]] = {message: [] for message in bot.script}
    async with aiohttp.ClientSession() as session:
        for number in range(conversations + 1):
            sender = f"messages-{uuid.uuid4().hex}"
            for message in bot.script:
                took = await _send(session, bot, sender, message)
                if took is None:
                    raise RuntimeError(f"the bot failed on {message!r}")
                if number:
                    times[message].append(took)
    return times


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Starts Kesher, sends the script, prints a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="the model to serve")
    parser.add_argument("--conversations", type=int, default=20, help="measured conversations")
    parser.add_argument("--vanilla-script", action="store_true", help="send the vanilla bot's four messages")
    args = parser.parse_args(argv)
    settings = stack_settings(Path(tempfile.mkdtemp(prefix="kesher-messages-")))
    seed(settings)
    order_id, email = shipped_order(settings)
    with Supervisor(settings, model=args.model):
        bot = Bot("kesher", rest_url(settings), rest_headers(settings), settings.rasa_url, dict,
                  VANILLA_SCRIPT if args.vanilla_script else script_of(order_id, email))
        times = asyncio.run(_measure(bot, args.conversations))
    print("| message | median ms | slowest ms |\n|---|---|---|")
    for message, took in times.items():
        print(f"| {message} | {statistics.median(took):.1f} | {max(took):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
