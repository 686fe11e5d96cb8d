"""The model server over real HTTP: what Rasa's model pulling sees."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.metrics import scrape
from tests.helpers.sanic_server import serving
from writers.model_server import MODEL_FILE, create_app, publish, published


def _model(folder: Path, name: str, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


async def test_rasa_gets_a_new_model_only_when_one_was_published(tmp_path: Path) -> None:
    served = tmp_path / "published"
    async with serving(create_app(served, name=f"models-{id(tmp_path)}")) as base, httpx.AsyncClient() as http:
        url = f"{base}/models/{MODEL_FILE}"
        assert (await http.get(url)).status_code == 404  # nothing yet: Rasa keeps asking

        first = publish(_model(tmp_path / "models", "a.tar.gz", b"model A" * 1000), served)
        got = await http.get(url, headers={"If-None-Match": ""})
        assert got.status_code == 200 and got.content == b"model A" * 1000
        assert got.headers["etag"] == first.etag and got.headers["filename"] == MODEL_FILE

        same = await http.get(url, headers={"If-None-Match": first.etag})
        assert same.status_code == 304 and same.content == b""  # what Rasa's pull gets while nothing changed

        second = publish(_model(tmp_path / "models", "b.tar.gz", b"model B" * 1000), served)
        assert second.etag != first.etag
        newer = await http.get(url, headers={"If-None-Match": first.etag})
        assert newer.status_code == 200 and newer.content == b"model B" * 1000
        current = (await http.get(f"{base}/models/current")).json()
        assert current["etag"] == second.etag and current["source"].endswith("b.tar.gz")


async def test_metrics_count_the_pulls_by_result_and_say_when_the_model_was_published(tmp_path: Path) -> None:
    served = tmp_path / "published"
    async with serving(create_app(served, name=f"models-metrics-{id(tmp_path)}")) as base, httpx.AsyncClient() as http:
        url = f"{base}/models/{MODEL_FILE}"
        before = await scrape(base)
        assert before.value("kesher_model_published_timestamp_seconds") == 0
        await http.get(url)
        meta = publish(_model(tmp_path / "models", "a.tar.gz", b"model A" * 10), served)
        await http.get(url, headers={"If-None-Match": "older"})
        for _ in range(3):
            await http.get(url, headers={"If-None-Match": meta.etag})
        after = await scrape(base)
    for result, count in (("none", 1), ("sent", 1), ("not_modified", 3)):
        assert after.value("kesher_model_pulls_total", result=result) - before.value(
            "kesher_model_pulls_total", result=result) == count
    assert after.value("kesher_model_published_timestamp_seconds") == pytest.approx(meta.published_at)


def test_publishing_leaves_no_partial_files(tmp_path: Path) -> None:
    served = tmp_path / "published"
    meta = publish(_model(tmp_path, "m.tar.gz", b"x" * 10), served)
    assert sorted(p.name for p in served.iterdir()) == ["kesher.json", MODEL_FILE]
    assert published(served) == meta
