"""Channel benchmark: webhook-to-reply latency per channel, against Rasa's plain REST channel.

Run with ``make bench-channels`` (or ``python -m bench.channels``). In one invocation it:

1. starts the whole stack as ``make up`` does, with the WhatsApp and Telegram
   channels pointed at local stand-ins for Twilio's and Telegram's APIs that
   run in this process and note when each reply arrives;
2. per level (1 and 10 concurrent customers), the same ``/greet`` turn (no NLU,
   the bot answers with one message) over:

   - **REST (baseline)**: ``POST /webhooks/kesher_rest/webhook`` (with its token); the reply is in the
     HTTP answer, straight from Rasa;
   - **web**: a widget websocket sends the message; timed until the bot's
     message frame arrives;
   - **WhatsApp**: a Twilio-signed form POST; timed until the reply reaches
     the Twilio stand-in;
   - **Telegram**: an update with the secret header; timed until the reply
     reaches the Bot API stand-in;

   the channels' extra work (signature check, dedup, identity, handoff state,
   the outbound stream and delivery worker, the provider client) is the
   difference to the REST row of the same level;
3. prints the table and writes it to ``bench/out/channels-<date>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Awaitable, Callable, Dict, List, Optional, Sequence
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from bench.turns import OUT_DIR, machine, rest_headers, rest_url, without_limits
from core.processes import free_port
from core.settings import Settings
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor

LEVELS = (1, 10)
TURNS = 200
CONVERSATION_TURNS = 5  # every path starts a new conversation this often (a tracker's length costs time)
MESSAGE = "/greet"
TWILIO_SID = "AC" + "b" * 32
TWILIO_TOKEN = "bench-twilio-token"
TELEGRAM_TOKEN = "777:bench-telegram-token"
TELEGRAM_SECRET = "bench-telegram-secret"
WAIT_SECONDS = 60.0


class Arrivals:
    """Futures keyed by recipient, resolved with the time the next reply to them arrived."""

    def __init__(self) -> None:
        self.waiting: Dict[str, asyncio.Future[float]] = {}

    def expect(self, recipient: str) -> asyncio.Future[float]:
        """A future for the next reply to ``recipient``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[recipient] = future
        return future

    def arrived(self, recipient: str, at: float) -> None:
        """Resolves the waiting future of ``recipient`` with ``at``."""
        future = self.waiting.pop(recipient, None)
        if future is not None and not future.done():
            future.set_result(at)


async def start_providers(port: int, arrivals: Arrivals) -> web.AppRunner:
    """Twilio's Messages API and Telegram's sendMessage, answering as the real ones do."""

    async def twilio(request: web.Request) -> web.Response:
        at = time.perf_counter()
        form = parse_qs(await request.text())
        arrivals.arrived(form["To"][0], at)
        return web.json_response({"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": form["To"][0]},
                                 status=201)

    async def telegram(request: web.Request) -> web.Response:
        at = time.perf_counter()
        body = await request.read()
        if request.content_type == "application/json":
            params = json.loads(body)
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        chat = int(params["chat_id"])
        arrivals.arrived(f"tg:{chat}", at)
        return web.json_response({"ok": True, "result": {
            "message_id": 1, "date": int(time.time()), "chat": {"id": chat, "type": "private"},
            "text": params.get("text", "")}})

    app = web.Application()
    app.router.add_post(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json", twilio)
    app.router.add_post(f"/bot{TELEGRAM_TOKEN}/sendMessage", telegram)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@dataclass
class Row:
    """Latencies of one channel at one level."""

    channel: str
    concurrency: int
    latencies_ms: List[float]
    seconds: float
    errors: int

    def quantiles(self) -> List[float]:
        """The 1st to 99th percentiles of the latencies."""
        lat = sorted(self.latencies_ms)
        return statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99


Turn = Callable[[int, int], Awaitable[float]]  # (customer, turn number) -> milliseconds


async def run_level(name: str, make_customer: Callable[[int], Awaitable[Turn]], concurrency: int,
                    turns: int) -> Row:
    """``turns`` turns spread over ``concurrency`` customers, each one turn after the other."""
    customers = [await make_customer(i) for i in range(concurrency)]
    await customers[0](0, -1)  # warm-up
    per_customer = max(1, turns // concurrency)
    latencies: List[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        for n in range(per_customer):
            try:
                latencies.append(await customers[i](i, n))
            except (TimeoutError, aiohttp.ClientError, AssertionError):
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(concurrency)))
    return Row(name, concurrency, latencies, time.perf_counter() - start, errors)


async def measure(settings: Settings, arrivals: Arrivals, levels: Sequence[int], turns: int) -> List[Row]:
    base = f"http://127.0.0.1:{settings.rasa_port}/webhooks"
    validator = RequestValidator(TWILIO_TOKEN)
    rows: List[Row] = []
    sockets: List[aiohttp.ClientWebSocketResponse] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS)) as http:

        async def rest(i: int) -> Turn:
            sender = ""

            async def turn(_i: int, n: int) -> float:
                nonlocal sender
                if n % CONVERSATION_TURNS == 0 or not sender:
                    sender = f"rest-{uuid.uuid4().hex}"
                start = time.perf_counter()
                async with http.post(rest_url(settings), json={"sender": sender, "message": MESSAGE},
                                     headers=rest_headers(settings)) as r:
                    assert r.status == 200 and await r.json()
                return (time.perf_counter() - start) * 1000
            return turn

        async def whatsapp(i: int) -> Turn:
            phone = ""
            url = f"{base}/whatsapp/webhook"

            async def turn(_i: int, n: int) -> float:
                nonlocal phone
                if n % CONVERSATION_TURNS == 0 or not phone:
                    phone = f"+9725{uuid.uuid4().int % 10**8:08d}"
                params = {"From": f"whatsapp:{phone}", "To": "whatsapp:+14155238886", "Body": MESSAGE,
                          "MessageSid": "SM" + uuid.uuid4().hex, "NumMedia": "0", "AccountSid": TWILIO_SID}
                headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
                arrived = arrivals.expect(f"whatsapp:{phone}")
                start = time.perf_counter()
                async with http.post(url, data=params, headers=headers) as r:
                    assert r.status == 200
                return (await asyncio.wait_for(arrived, WAIT_SECONDS) - start) * 1000
            return turn

        async def telegram(i: int) -> Turn:
            chat = 0

            async def turn(_i: int, n: int) -> float:
                nonlocal chat
                if n % CONVERSATION_TURNS == 0 or not chat:
                    chat = 10_000_000 + uuid.uuid4().int % 10**7
                update = {"update_id": uuid.uuid4().int % 2**31, "message": {
                    "message_id": 1, "date": int(time.time()), "text": MESSAGE,
                    "chat": {"id": chat, "type": "private", "first_name": "Bench"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Bench"}}}
                arrived = arrivals.expect(f"tg:{chat}")
                start = time.perf_counter()
                async with http.post(f"{base}/telegram/webhook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}) as r:
                    assert r.status == 200
                return (await asyncio.wait_for(arrived, WAIT_SECONDS) - start) * 1000
            return turn

        async def widget(i: int) -> Turn:
            current: List[aiohttp.ClientWebSocketResponse] = []

            async def connect() -> aiohttp.ClientWebSocketResponse:
                async with http.post(f"{base}/web/session") as r:
                    session = await r.json()
                ws = await http.ws_connect(f"{base}/web/socket".replace("http://", "ws://"))
                sockets.append(ws)
                await ws.send_json({"type": "hello", **session, "after": 0})
                await ws.receive_json()
                return ws

            async def turn(_i: int, n: int) -> float:
                if n % CONVERSATION_TURNS == 0 or not current:
                    current[:] = [await connect()]  # a new visitor, not timed
                ws = current[0]
                start = time.perf_counter()
                await ws.send_json({"type": "message", "text": MESSAGE, "message_id": uuid.uuid4().hex})
                while True:
                    frame = await asyncio.wait_for(ws.receive_json(), WAIT_SECONDS)
                    if frame.get("type") == "message" and frame.get("role") == "bot":
                        return (time.perf_counter() - start) * 1000
            return turn

        for level in levels:
            for name, make in (("REST (baseline)", rest), ("web widget", widget), ("WhatsApp", whatsapp),
                               ("Telegram", telegram)):
                print(f"  {name}, {level} concurrent...", flush=True)
                rows.append(await run_level(name, make, level, turns))
        for ws in sockets:
            await ws.close()
    return rows


def report(rows: Sequence[Row], turns: int, load_before: float) -> str:
    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; 1-minute load average "
        f"{load_before:.2f} before the stack started, {os.getloadavg()[0]:.2f} at the end",
        f"{turns} `{MESSAGE}` turns per channel and level, each customer one turn after the other, "
        f"a new conversation every {CONVERSATION_TURNS} turns on every path.",
        "",
        "| channel | concurrent customers | turns | p50 ms | p95 ms | p99 ms | turns/s | errors | p50 over REST |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    baseline: Dict[int, float] = {}
    for row in rows:
        q = row.quantiles()
        if row.channel.startswith("REST"):
            baseline[row.concurrency] = q[49]
        over = q[49] - baseline.get(row.concurrency, q[49])
        lines.append(
            f"| {row.channel} | {row.concurrency} | {len(row.latencies_ms)} | {q[49]:.0f} | {q[94]:.0f} | "
            f"{q[98]:.0f} | {len(row.latencies_ms) / row.seconds:.1f} | {row.errors} | "
            f"{'—' if row.channel.startswith('REST') else f'{over:+.0f} ms'} |"
        )
    return "\n".join(lines)


def _ints(raw: str) -> List[int]:
    return [int(x) for x in raw.split(",") if x.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=_ints, default=list(LEVELS), help="concurrent customers (default 1,10)")
    parser.add_argument("--turns", type=int, default=TURNS, help="turns per channel and level (default 200)")
    args = parser.parse_args(argv)

    print("Training the model if the data changed...", flush=True)
    model = train_model(Settings())
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="kesher-channels-"))
    provider_port = free_port()
    provider = f"http://127.0.0.1:{provider_port}"
    try:
        settings = without_limits(Settings(var_dir=work / "var")).replace(
            twilio_account_sid=TWILIO_SID, twilio_auth_token=TWILIO_TOKEN, twilio_api_base=provider,
            telegram_token=TELEGRAM_TOKEN, telegram_secret_token=TELEGRAM_SECRET, telegram_api_base=provider,
        ).with_ports(redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(),
                     smtp=free_port(), models=free_port())
        seed(settings)
        print("Starting the stack (redis, smtp, actions, rasa, handoff)...", flush=True)

        async def run() -> List[Row]:
            arrivals = Arrivals()
            runner = await start_providers(provider_port, arrivals)
            try:
                return await measure(settings, arrivals, args.levels, args.turns)
            finally:
                await runner.cleanup()

        with Supervisor(settings, model=model):
            rows = asyncio.run(run())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = report(rows, args.turns, load_before)
    print("\n" + text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"channels-{date.today().isoformat()}.md"
    out.write_text(text + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
