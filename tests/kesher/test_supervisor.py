"""The supervisor heals: a part that dies comes back, the others keep serving, and nothing outlives it.

``kesher up`` runs here as a background shell runs it (SIGINT ignored), with the small parts (Redis, SMTP,
the handoff service), on free ports and a state folder of the test's own, which every process it starts
carries in its environment: that is how the tests find what is left.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import pytest
import redis
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

import kesher.supervisor
from core.language import is_hebrew
from core.processes import free_port
from core.settings import Settings
from kesher.supervisor import Part, Supervisor, _rasa_ready
from tests.helpers.sanic_server import serving
from tests.helpers.supervised import Up, processes_of
from tests.helpers.waiting import until_sync

SMALL = ("redis", "smtp", "handoff")


@pytest.fixture()
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path, SMALL)
    running.wait_running()
    yield running
    running.stop()


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_part_even_from_a_shell_that_ignores_sigint(up: Up, sig: signal.Signals) -> None:
    children = set(up.pids().values())
    assert len(children) == len(SMALL) and children <= set(processes_of(up.var_dir))

    up.process.send_signal(sig)

    assert up.process.wait(timeout=60) == 0, up.text()
    assert f"{sig.name}: stopping every part" in up.text()
    stopped = re.findall(r"supervisor: (\S+) \(pid \d+\) stopped", up.text())
    assert stopped == list(reversed(SMALL))  # in reverse order of starting
    until_sync(lambda: not processes_of(up.var_dir), what="every part of kesher up gone", timeout=10)


def test_a_supervisor_killed_with_sigkill_takes_every_part_with_it(up: Up) -> None:
    assert len(processes_of(up.var_dir)) >= len(SMALL) + 1  # the parts, and the supervisor itself

    up.process.kill()
    up.process.wait()

    until_sync(lambda: not processes_of(up.var_dir), what="every part gone after the supervisor's SIGKILL",
               timeout=10, every=0.1)


def test_a_part_killed_with_sigkill_comes_back_while_the_others_keep_serving(up: Up) -> None:
    port = up.settings.handoff_port
    client = redis.Redis(port=up.settings.redis_port, socket_timeout=2)
    client.set("still-here", "yes")
    old = up.pids()["handoff"]
    assert _health(port)
    mark = len(up.text())

    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()

    pings: List[bool] = []

    def back() -> bool:
        pings.append(bool(client.ping()))  # Redis answers all along
        return up.pids()["handoff"] != old and _health(port)

    until_sync(back, what="the handoff service answering again", timeout=60, every=0.1)
    print(f"\nthe handoff service answered again {time.monotonic() - killed:.1f} s after kill -9")
    assert all(pings) and len(pings) > 3
    up.wait_for(rf"handoff \(pid {old}\) was killed by SIGKILL; next try in 1 s", after=mark)

    # Redis too: with the append-only file on (as `make up` runs it, fsync every second), a kill -9 loses at
    # most the last second or two of writes (Redis may hold the file write back while an fsync is slow), never
    # what was written before: "still-here" was written before the handoff service was killed.
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    os.kill(up.pids()["redis"], signal.SIGKILL)
    until_sync(lambda: _redis_answers(client), what="Redis answering again", timeout=60, every=0.1)
    assert client.get("still-here") == b"yes"
    until_sync(lambda: _health(port), what="the handoff service healthy with the new Redis", timeout=30)
    client.close()


def _redis_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_a_part_that_keeps_crashing_at_start_is_reported_and_retried_ever_more_slowly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: List[str] = []
    supervisor = Supervisor(Settings(var_dir=tmp_path), parts=("smtp",), log=lines.append)
    supervisor.first_wait, supervisor.longest_wait = 0.05, 0.2
    supervisor.log_dir.mkdir(parents=True)
    part = supervisor.part("smtp")
    part.command = [sys.executable, "-c", "print('cannot listen: port 8025 is taken'); raise SystemExit(3)"]
    part.state = "waiting"  # as if it had just died

    def report() -> bool:
        supervisor.tick()
        return any("keeps crashing" in line for line in lines)

    def ticked(condition: Callable[[], bool]) -> Callable[[], bool]:
        def check() -> bool:
            supervisor.tick()
            return condition()
        return check

    try:
        until_sync(report, what="the report of a part crashing at start", timeout=60)
        waits = re.findall(r"smtp \(pid \d+\) exited with code 3; next try in (\S+) s", "\n".join(lines))
        assert waits == ["0.05", "0.1", "0.2", "0.2", "0.2"]
        crashing = next(line for line in lines if "keeps crashing" in line)
        assert "5 times in a row" in crashing and "cannot listen: port 8025 is taken" in crashing

        # Once it comes up and stays up, its next failure waits the shortest time again.
        monkeypatch.setattr(kesher.supervisor, "STABLE_SECONDS", 0.0)
        part.command = [sys.executable, "-c", "import time; time.sleep(600)"]
        part.ready = lambda: True
        until_sync(ticked(lambda: part.state == "ready"), what="the part up", timeout=30)
        until_sync(ticked(lambda: part.failures == 0), what="the waits reset", timeout=5)
        assert part.process is not None
        part.process.kill()
        until_sync(ticked(lambda: part.state == "waiting"), what="the death noticed", timeout=10)
        assert lines[-1].endswith("was killed by SIGKILL; next try in 0.05 s")
    finally:
        supervisor.stop()


def test_a_part_s_own_children_stop_with_it(tmp_path: Path) -> None:
    supervisor = Supervisor(Settings(var_dir=tmp_path), parts=("smtp",), log=lambda line: None)
    supervisor.log_dir.mkdir(parents=True)
    part = supervisor.part("smtp")
    # A part that starts a child of its own and ignores SIGTERM, as a hung server would.
    # (the pid is written aside and moved into place, so "ready" never sees a half-written file)
    script = f'trap "" TERM; sleep 600 & echo $! > {tmp_path}/child.tmp; mv {tmp_path}/child.tmp {tmp_path}/child; wait'
    part.command = ["bash", "-c", script]
    part.ready = lambda: (tmp_path / "child").exists()
    supervisor.start()
    child = int((tmp_path / "child").read_text())

    supervisor.stop(grace=1)

    until_sync(lambda: not Path(f"/proc/{child}").exists() or _zombie(child), what="the part's child gone",
               timeout=10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_with_one_replica_nothing_changes_and_with_three_each_part_runs_three_times_behind_nginx(
    tmp_path: Path,
) -> None:
    one = Supervisor(Settings(var_dir=tmp_path))
    assert [p.name for p in one.parts] == ["redis", "smtp", "models", "actions", "rasa", "handoff"]
    assert not one.balanced and all(p.port == 0 for p in one.parts)

    three = Supervisor(Settings(var_dir=tmp_path).replace(replicas=3))
    assert [p.name for p in three.parts] == [
        "redis", "smtp", "models", *(f"{kind}-{n}" for kind in ("actions", "rasa", "handoff") for n in (1, 2, 3)),
        "frontdoor"]
    assert three.balanced == ("rasa", "actions", "handoff")


def test_with_redis_sentinels_the_supervisor_starts_no_redis_of_its_own_and_says_so(tmp_path: Path) -> None:
    lines: List[str] = []
    settings = Settings(var_dir=tmp_path).replace(redis_sentinels="127.0.0.1:26379,127.0.0.1:26380")

    supervisor = Supervisor(settings, log=lines.append)

    assert [p.name for p in supervisor.parts] == ["smtp", "models", "actions", "rasa", "handoff"]
    assert supervisor.redis_elsewhere
    assert any("REDIS_SENTINELS is set: not starting a redis-server" in line for line in lines), lines


async def test_rasa_is_ready_only_once_its_model_answers_and_it_has_parsed_a_message_in_each_language() -> None:
    app = Sanic(f"warm-{free_port()}")
    parsed: List[str] = []
    loaded = {"model": False}

    @app.get("/status")
    async def status(request: Request) -> HTTPResponse:
        assert request.headers["authorization"].startswith("Bearer ")  # a signed JWT, never ?token=
        return json_response({"model_file": "m.tar.gz"}, status=200 if loaded["model"] else 409)

    @app.post("/model/parse")
    async def parse(request: Request) -> HTTPResponse:
        parsed.append(request.json["text"])
        return json_response({"intent": {"name": "order_status"}})

    async with serving(app) as url:
        ready = _rasa_ready(url, "a-test-secret-of-thirty-two-bytes")
        assert not await asyncio.to_thread(ready) and parsed == []  # no model yet: not warmed either
        loaded["model"] = True
        assert await asyncio.to_thread(ready)
    assert len(parsed) == 2 and any(is_hebrew(text) for text in parsed) and not all(is_hebrew(t) for t in parsed)


def _targets(supervisor: Supervisor) -> List[Tuple[str, str, int]]:
    groups = json.loads(supervisor.targets_path.read_text(encoding="utf-8"))
    return [(g["labels"]["part"], g["labels"]["replica"], int(g["targets"][0].rsplit(":", 1)[1])) for g in groups]


def test_prometheus_finds_every_replica_in_the_target_file_as_they_start_die_and_come_back(tmp_path: Path) -> None:
    lines: List[str] = []
    supervisor = Supervisor(Settings(var_dir=tmp_path).replace(replicas=2), parts=("handoff",), log=lines.append)
    supervisor.first_wait = 0.05

    def configure(part: Part) -> None:  # the real free port, a process that costs nothing
        supervisor._configure_replica(part)
        part.command = [sys.executable, "-c", "import time; time.sleep(600)"]
        part.ready = lambda: True

    for part in supervisor.parts:
        part._configure = configure
    supervisor.start()
    try:
        first, second = supervisor.part("handoff-1"), supervisor.part("handoff-2")
        assert supervisor.targets_path == tmp_path / "prometheus" / "kesher-targets.json"
        assert _targets(supervisor) == [("handoff", "1", first.port), ("handoff", "2", second.port)]
        assert second.process is not None
        second.process.kill()

        def ticked(condition: Callable[[], bool]) -> Callable[[], bool]:
            def check() -> bool:
                supervisor.tick()
                return condition()
            return check

        until_sync(ticked(lambda: second.state == "waiting"), what="the replica's death noticed", timeout=10)
        assert _targets(supervisor) == [("handoff", "1", first.port)]  # its port means nothing now
        until_sync(ticked(lambda: second.state == "ready"), what="the replica back", timeout=10)
        assert _targets(supervisor) == [("handoff", "1", first.port), ("handoff", "2", second.port)]
    finally:
        supervisor.stop(grace=1)
    assert json.loads(supervisor.targets_path.read_text(encoding="utf-8")) == []


def test_without_replicas_the_target_file_names_each_part_on_its_own_port(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    supervisor = Supervisor(settings, log=lambda line: None)
    for part in supervisor.parts:
        part.state = "ready"  # as once they answer; nothing is started here
    supervisor._write_targets()
    assert _targets(supervisor) == [("models", "1", settings.model_server_port),
                                    ("actions", "1", settings.actions_port), ("rasa", "1", settings.rasa_port),
                                    ("handoff", "1", settings.handoff_port)]
