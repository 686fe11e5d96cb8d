"""Kesher's command line: ``python -m kesher <command>``.

Commands:
    up               seed the demo orders if needed, train if the data changed, run
                     everything on loopback until Ctrl-C (what ``make up`` does)
    train            train a model unless nothing changed since the last one
    seed             create and fill the orders database (``--reset`` starts over)
    demo-orders      print demo orders to try, one per status and language
    order-delay ID DATE  mark an order delayed with a new estimated delivery date (YYYY-MM-DD);
                     its customer is told at once, once (chat and e-mail, as the late-order scan does)
    notices-stop ADDRESS  no more late-order notices to this e-mail address (a customer asked by
                     replying to a notice e-mail; the e-mail's own link does the same)
    shell            chat with the bot in this terminal (``rasa shell``)
    check-content    the content writers' check (``make check-content``)
    nlu-gate         train on 80 % of the NLU examples, test on the rest, check the thresholds
    ship             check, train, test and publish a model (``make ship``)
    serve PART       run one part: handoff, actions, rasa, models or smtpd (its own module, see kesher/part.py)
    add-agent ID     add or update an agent of the console (asks for the password)
    telegram-webhook register (or delete) the Telegram webhook
    rasa-token       print a JWT for Rasa's HTTP API, valid 5 minutes
                     (curl -H "Authorization: Bearer $(python -m kesher rasa-token)" ...)
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram.error import TelegramError

from actions.orders.models import STATUSES, OrderRow
from actions.orders.repository import OrderNotFound, OrderStateConflict, OrdersUnavailable
from actions.orders.seed import reset_database, seed_database
from core.language import LANGUAGES
from core.processes import free_port, latest_model, model_staging, models_by_age, venv_bin
from core.production import ProductionRefused, check, demo_values_in_use, demo_warning
from core.rasa_api import api_token
from core.settings import PROJECT_ROOT, Settings
from handoff.email_codes import email_digest
from handoff.mail.compose import customer_address
from kesher.add_agent import add_agent_cli
from kesher.part import PART_MODULES, serve
from kesher.supervisor import ALL_PARTS, Supervisor
from wiring.container import Container
from writers import content_check, ship
from writers.nlu_gate import run_gate
from writers.rasa_batch import run_rasa

__all__ = ["demo_orders", "main", "notices_stop", "order_delay", "seed", "serve", "shell_command", "start_check",
           "telegram_webhook", "train_model"]

SERVED_PARTS = tuple(PART_MODULES)
# Commands that run a server: each checks the settings first (production mode, demo warning).
_SERVING = ("up", "shell")


def _echo(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


def train_model(settings: Settings, extra_args: Sequence[str] = ()) -> Path:
    """Runs ``rasa train``; Rasa itself skips the work when nothing changed.

    Through :func:`writers.rasa_batch.run_rasa`, which runs Rasa's commands faster than ``rasa`` does.

    Returns:
        The model to serve.

    Raises:
        SystemExit: Training failed.
    """
    with model_staging(settings.model_dir) as staging:
        command = ["train", "--domain", "domain", "--data", "data", "--config", "config.yml",
                   "--out", str(staging), *extra_args]
        result = run_rasa([command], PROJECT_ROOT, settings.child_env(), echo=_echo)
        built = latest_model(staging)
        if result.returncode != 0 or built is None:
            raise SystemExit(f"rasa train failed (exit code {result.returncode})")
    model = settings.model_dir / built.name  # moved there whole as the block ended
    # Each model is ~125 MB: keep the one in use and the one before it (another training may prune too).
    for stale in models_by_age(settings.model_dir)[:-2]:
        if stale != model:
            stale.unlink(missing_ok=True)
    return model


def seed(settings: Settings, reset: bool = False, today: Optional[date] = None) -> int:
    """Creates the orders database and fills it with demo orders if it is empty."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = Container(settings).orders.engine
    try:
        if reset:
            reset_database(engine)
        return seed_database(engine, today or date.today())
    finally:
        engine.dispose()


def demo_orders(settings: Settings) -> List[str]:
    """Lines describing one demo order per status and language."""
    engine = Container(settings).orders.engine
    lines = [f"{'order':<8} {'status':<11} {'lang':<5} {'e-mail':<34} phone"]
    with Session(engine) as session:
        for status in STATUSES:
            for language in LANGUAGES:
                row = session.scalars(
                    select(OrderRow)
                    .where(OrderRow.status == status, OrderRow.language == language)
                    .order_by(OrderRow.order_id)
                ).first()
                if row is not None:
                    lines.append(f"{row.order_id:<8} {status:<11} {language:<5} {row.email:<34} {row.phone}")
    engine.dispose()
    return lines


# What the customer of a delayed order was told (Container.delay_order's outcomes).
_DELAY_TOLD = {
    "sent": "Its customer was told now: on the chat channel they last wrote on (if any), and by e-mail to {email}.",
    "already": "Its customer had already been told of this estimate; they are not told again.",
    "opted_out": "Its customer asked for no notices (\"stop\"); they are not told.",
    "later": "Redis could not be reached, so its customer is not told yet: the handoff service's scan of late "
             "orders (every {minutes:g} minutes) tells them.",
    "later_no_scan": "Redis could not be reached, so its customer is not told, and the scan of late orders is off "
                     "(KESHER_NOTICE_SCAN_MINUTES=0): run this command again once Redis is back.",
}


def order_delay(settings: Settings, order_id: str, estimate: date) -> int:
    """Marks an open order delayed with a new estimated delivery date; its customer is told at once, once.

    Prints what was done and what the customer was told (exit 0), or why nothing was done (exit 1).
    """
    return asyncio.run(_order_delay(settings, order_id, estimate))


async def _order_delay(settings: Settings, order_id: str, estimate: date) -> int:
    container = Container(settings)
    try:
        order, told = await container.delay_order(order_id, estimate)
    except OrderNotFound:
        print(f"There is no order {order_id}.", file=sys.stderr)
        return 1
    except OrderStateConflict:
        current = await container.orders.get(order_id)
        status = current.status if current is not None else "closed"
        print(f"Order {order_id} is {status}: only an open order (processing, shipped or delayed) can be delayed.",
              file=sys.stderr)
        return 1
    except OrdersUnavailable as exc:
        print(f"Nothing changed: {exc}.", file=sys.stderr)
        return 1
    finally:
        await container.close()
    print(f"Order {order.order_id} is delayed; new estimated delivery {estimate.isoformat()}.")
    if told == "later" and settings.notice_scan_minutes <= 0:
        told = "later_no_scan"
    print(_DELAY_TOLD[told].format(email=order.email, minutes=settings.notice_scan_minutes))
    return 0


def notices_stop(settings: Settings, address: str) -> int:
    """No more late-order notices to ``address`` (chat or e-mail), as its unsubscribe link would do.

    Prints what was done (exit 0), or why nothing was (exit 1: not an address, Redis unreachable).
    """
    return asyncio.run(_notices_stop(settings, address))


async def _notices_stop(settings: Settings, address: str) -> int:
    email = customer_address(address)
    if not email:
        print(f"{address!r} is not an e-mail address.", file=sys.stderr)
        return 1
    container = Container(settings)
    try:
        now = await container.notices.opt_out_address(email_digest(email), settings.console_language,
                                                      via="operator")
    except (RedisError, OSError) as exc:
        print(f"Nothing changed: Redis could not be reached ({exc}).", file=sys.stderr)
        return 1
    finally:
        await container.close()
    print(f"{email} gets no more late-order notices." if now else f"{email} had already opted out of notices.")
    return 0


def _estimate(text: str) -> date:
    try:
        when = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the new estimate is a date, YYYY-MM-DD (got {text!r})") from None
    if when < date.today():
        raise argparse.ArgumentTypeError(f"the new estimate {text} is in the past")
    return when


def start_check(settings: Settings, warn: bool = True) -> bool:
    """Refuses unsafe production settings before anything starts; warns in demo mode.

    Prints each problem on its own line (stderr) and returns False when production mode
    refuses the settings; otherwise prints the demo warning, if any (and ``warn``), and
    returns True.
    """
    try:
        check(settings)
    except ProductionRefused as exc:
        print(exc, file=sys.stderr)
        return False
    warning = demo_warning(settings)
    if warning and warn:
        print(warning, file=sys.stderr, flush=True)
    return True


def _up(settings: Settings, parts: Sequence[str] = ALL_PARTS) -> int:
    created = seed(settings)
    if created:
        print(f"Seeded {created} demo orders into {settings.orders_db_url}")
    # Only the model server and `rasa run` need a model (tests start the small parts alone).
    model = train_model(settings) if {"models", "rasa"} & set(parts) else None
    supervisor = Supervisor(settings, model=model, parts=parts)
    print("Starting Redis, the mail server, the action server, Rasa and the handoff service "
          "(the first start takes about a minute)...", flush=True)
    code = supervisor.run(on_ready=lambda: _print_addresses(settings, supervisor))
    print("Stopped.", flush=True)
    return code


def _print_addresses(settings: Settings, supervisor: Supervisor) -> None:
    """What ``make up`` prints once every part answers: where each listens."""
    expected = set(ALL_PARTS[:-1]) - ({"redis"} if supervisor.redis_elsewhere else set())
    if expected - {part.kind for part in supervisor.parts}:  # some parts only (tests)
        print("Kesher is running these parts:\n" + "\n".join(
            f"  {part.name:<30} {part.url}   (pid {part.pid})" for part in supervisor.parts), flush=True)
        return
    rasa = f"http://127.0.0.1:{settings.rasa_port}"
    rest = f"{rasa}/webhooks/kesher_rest/webhook"
    # The demo token may be shown; a real one stays out of terminals and logs.
    token = settings.rest_token if settings.rest_token == Settings().rest_token else "$KESHER_REST_TOKEN"
    print(
        "\nKesher is running on this machine:\n"
        f"  Chat widget demo (browser)     {rasa}/webhooks/web/demo\n"
        f"      embed it on a page with    <script src=\"{rasa}/webhooks/web/widget.js\" defer></script>\n"
        f"  Agent console (browser)        {settings.handoff_url}/console   "
        "(demo agents dana, omer, sarah; password kesher-demo)\n"
        f"  E-mails sent to customers      {settings.handoff_url}/console/mail   (files in {settings.mail_dir})\n"
        f"  WhatsApp webhook (Twilio)      POST {rasa}/webhooks/whatsapp/webhook   (status: .../status)\n"
        f"  Telegram webhook               POST {rasa}/webhooks/telegram/webhook   "
        "(register: python -m kesher telegram-webhook --url https://<public host>/webhooks/telegram/webhook)\n"
        f"  Chat over HTTP (REST channel)  POST {rest}   (Authorization: Bearer $KESHER_REST_TOKEN)\n"
        f"      curl -s {rest} -H \"Authorization: Bearer {token}\" "
        f"-d '{{\"sender\": \"me\", \"message\": \"שלום\"}}'\n"
        f"  Rasa HTTP API (loopback only)  {rasa}/status   "
        "(curl -H \"Authorization: Bearer $(python -m kesher rasa-token)\" ...)\n"
        f"  Action server                  {settings.action_server_url.removesuffix('/webhook')}/health   "
        "(calls need KESHER_ACTIONS_TOKEN)\n"
        + (f"  Redis (through its sentinels)  {settings.redis_sentinels}   (no redis-server of our own)\n"
           if supervisor.redis_elsewhere else f"  Redis                          redis://127.0.0.1:{settings.redis_port}\n")
        + f"  SMTP (local, keeps .eml files) smtp://127.0.0.1:{settings.smtp_port}\n"
        f"  Logs                           {supervisor.log_dir}\n"
        "  Chat in a terminal             make shell   (in another terminal)\n"
        "  Demo orders to try             python -m kesher demo-orders\n"
        "WhatsApp and Telegram need TWILIO_* / TELEGRAM_* and a public URL (KESHER_PUBLIC_URL); "
        "see the README. Press Ctrl-C to stop.",
        flush=True,
    )
    if supervisor.balanced:
        replicas = ", ".join(f"{part.name} :{part.port}" for part in supervisor.parts if part.port)
        print(f"{settings.replicas} replicas each of rasa run, the action server and the handoff service, behind "
              f"nginx on the ports above (now {replicas}; a replica gets a new port when it restarts); "
              f"logs: {supervisor.log_dir}/<replica>.log", flush=True)
    if settings.public_host:
        door = settings.public_url
        print(
            "On the internet, through the TLS front door (everything else answers 404 there):\n"
            f"  Chat widget                    {door}/webhooks/web/widget.js   (demo: {door}/webhooks/web/demo)\n"
            f"  Agent console                  {door}/console\n"
            f"  WhatsApp webhook (Twilio)      {door}/webhooks/whatsapp/webhook   (status: .../status)\n"
            f"  Telegram webhook               {door}/webhooks/telegram/webhook",
            flush=True,
        )


def _shell(settings: Settings) -> int:
    model = latest_model(settings.model_dir) or train_model(settings)
    if seed(settings):
        print("Seeded the demo orders.")
    # rasa shell loads its model from the model server, as `rasa run` does (endpoints.yml `models:`).
    # Its own server (the stock REST channel it talks to) listens on loopback only.
    with Supervisor(settings, model=model, parts=("redis", "models", "actions")):
        return subprocess.run(shell_command(free_port()), cwd=PROJECT_ROOT, env=settings.child_env()).returncode


def shell_command(port: int) -> List[str]:
    """``rasa shell``, whose own server listens on ``port`` of loopback only (Rasa's default is every interface)."""
    return [
        venv_bin("rasa"), "shell",
        "--endpoints", "endpoints.yml",
        "--interface", "127.0.0.1",
        "--port", str(port),
    ]


class DemoSecretRefused(Exception):
    """A command refuses to hand a demo secret to the outside world."""


async def _telegram_webhook(url: str, delete: bool, settings: Settings) -> str:
    # The channel module loads Rasa (~6 s): every other command, `kesher train` among them, does without.
    from connectors.telegram import TelegramChannel  # noqa: PLC0415

    channel = TelegramChannel(settings.telegram_token, settings.telegram_secret_token, settings.telegram_api_base)
    bot = channel.make_bot()
    async with bot:  # checks the bot's token with Telegram first
        if delete:
            await bot.delete_webhook()
        else:
            if "TELEGRAM_SECRET_TOKEN" in demo_values_in_use(settings):
                raise DemoSecretRefused(
                    "TELEGRAM_SECRET_TOKEN still has its demo value: set it to a long random secret of your own "
                    "before registering the webhook (anyone could forge Telegram updates with the demo one)")
            await bot.set_webhook(url, secret_token=settings.telegram_secret_token,
                                  allowed_updates=["message", "callback_query"])
        info = await bot.get_webhook_info()
    return f"webhook: {info.url or '(none)'}; pending updates: {info.pending_update_count}"


def telegram_webhook(url: str, delete: bool, settings: Settings) -> int:
    """Registers (or deletes) the Telegram webhook; prints what Telegram now has.

    Never registers the demo secret token: it is public, so anyone could post updates as Telegram.
    """
    try:
        print(asyncio.run(_telegram_webhook(url, delete, settings)))
    except TelegramError as exc:
        print(f"Telegram refused: {exc.message}", file=sys.stderr)
        return 1
    except DemoSecretRefused as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


# Commands whose own parsers read the rest of the command line.
_PASS_THROUGH: Dict[str, Callable[[Sequence[str]], int]] = {
    "check-content": content_check.main,
    "ship": ship.main,
    "add-agent": add_agent_cli,
}


def _parts(text: str) -> Tuple[str, ...]:
    parts = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(parts) - set(ALL_PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"parts are among {', '.join(ALL_PARTS)} (got {text!r})")
    return parts


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parses the command line and runs one command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in _PASS_THROUGH:
        return _PASS_THROUGH[args_list[0]](args_list[1:])
    parser = argparse.ArgumentParser(prog="python -m kesher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up_cmd = commands.add_parser("up", help="run everything until Ctrl-C")
    up_cmd.add_argument("--parts", type=_parts, default=ALL_PARTS,
                        help=f"comma-separated parts to run (default: all of {','.join(ALL_PARTS)})")
    commands.add_parser("train", help="train unless nothing changed")
    seed_cmd = commands.add_parser("seed", help="fill the orders database")
    seed_cmd.add_argument("--reset", action="store_true", help="drop every order first")
    seed_cmd.add_argument("--today", type=date.fromisoformat, help="day the demo orders are relative to")
    commands.add_parser("demo-orders", help="orders to try the bot with")
    delay_cmd = commands.add_parser("order-delay", help="mark an order delayed; its customer is told once")
    delay_cmd.add_argument("order_id", help="the order number")
    delay_cmd.add_argument("estimate", type=_estimate, help="the new estimated delivery date, YYYY-MM-DD")
    stop_cmd = commands.add_parser("notices-stop", help="no more late-order notices to an e-mail address")
    stop_cmd.add_argument("address", help="the customer's e-mail address")
    commands.add_parser("shell", help="chat in this terminal")
    commands.add_parser("nlu-gate", help="NLU quality gate on a held-out split")
    commands.add_parser("check-content", help="the content writers' check (see --help)")
    commands.add_parser("ship", help="check, train, test and publish a model (see --help)")
    serve_cmd = commands.add_parser("serve", help="run one part until stopped")
    serve_cmd.add_argument("part", choices=SERVED_PARTS)
    commands.add_parser("add-agent", help="add or update a console agent (see --help)")
    tg = commands.add_parser("telegram-webhook", help="register (or --delete) the Telegram webhook")
    group = tg.add_mutually_exclusive_group(required=True)
    group.add_argument("--url", help="public HTTPS URL of /webhooks/telegram/webhook")
    group.add_argument("--delete", action="store_true", help="remove the webhook")
    commands.add_parser("rasa-token", help="print a JWT for Rasa's HTTP API (valid 5 minutes)")
    args = parser.parse_args(args_list)

    if args.command == "serve":  # the part's module checks the settings and prints the demo line itself
        return serve(args.part)
    settings = Settings.from_env()
    if args.command in _SERVING and not start_check(settings):
        return 2
    try:
        return _run(args, settings)
    except ProductionRefused as exc:  # a command that builds the composition root (seed, demo-orders)
        print(exc, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "up":
        return _up(settings, args.parts)
    if args.command == "train":
        print(train_model(settings))
        return 0
    if args.command == "seed":
        print(f"{seed(settings, reset=args.reset, today=args.today)} orders created")
        return 0
    if args.command == "demo-orders":
        seed(settings)
        print("\n".join(demo_orders(settings)))
        return 0
    if args.command == "order-delay":
        return order_delay(settings, args.order_id, args.estimate)
    if args.command == "notices-stop":
        return notices_stop(settings, args.address)
    if args.command == "nlu-gate":
        return 0 if run_gate().passed else 1
    if args.command == "telegram-webhook":
        return telegram_webhook(args.url or "", args.delete, settings)
    if args.command == "rasa-token":
        print(api_token(settings.rasa_api_token, username="kesher-cli"))
        return 0
    return _shell(settings)
