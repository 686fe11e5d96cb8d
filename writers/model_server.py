"""The model server the running ``rasa run`` processes pull from (Rasa's ``models:`` endpoint).

``endpoints.yml`` points ``models.url`` here; every ``wait_time_between_pulls``
seconds each Rasa server asks for the model with ``If-None-Match: <its
fingerprint>``, gets ``304`` while nothing changed, and loads the new file
without a restart when :func:`publish` has put another one in place.
Conversations are in Redis, so they carry on with the new model.

``python -m kesher serve models`` runs it (the supervisor does, as part ``models``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, empty, file_stream
from sanic.response import json as json_response

from edge.errors import SafeErrorHandler
from edge.metrics import gauge, setup_metrics

__all__ = ["MODEL_FILE", "PublishedModel", "create_app", "publish", "published", "relabelled"]

MODEL_FILE = "kesher.tar.gz"

MODEL_PULLS = Counter("kesher_model_pulls", "Rasa servers' requests for the model, by result: sent (a new model "
                      "went out), not_modified (the caller has it), none (nothing published).", ["result"])
_META_FILE = "kesher.json"


@dataclass(frozen=True)
class PublishedModel:
    """The model being served.

    Attributes:
        etag: Its fingerprint (sha256 of the file, shortened); what Rasa sends back in If-None-Match.
        source: The trained model file it was copied from.
        published_at: Epoch seconds.
        size: Bytes.
    """

    etag: str
    source: str
    published_at: float
    size: int


def published(directory: Path) -> Optional[PublishedModel]:
    """The model published in ``directory``, if any."""
    try:
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return PublishedModel(**meta)


def publish(model: Path, directory: Path) -> PublishedModel:
    """Puts ``model`` where the model server serves it, in one atomic step.

    The file is copied next to the served one and renamed over it, so a Rasa
    server downloading at that moment gets the old file or the new one, whole.

    Args:
        model: A trained model (``.tar.gz``).
        directory: The model server's folder.

    Returns:
        What is served now.
    """
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with model.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    staged = directory / f".{MODEL_FILE}.{os.getpid()}"
    shutil.copyfile(model, staged)
    meta = PublishedModel(etag=digest.hexdigest()[:32], source=str(model), published_at=time.time(),
                          size=model.stat().st_size)
    staged_meta = directory / f".{_META_FILE}.{os.getpid()}"
    staged_meta.write_text(json.dumps(meta.__dict__), encoding="utf-8")
    # The file first, then its fingerprint: a server that sees the new ETag gets the new file.
    os.replace(staged, directory / MODEL_FILE)
    os.replace(staged_meta, directory / _META_FILE)
    return meta


def relabelled(model: Path, folder: Path, label: str) -> Path:
    """A copy of ``model`` under another ``model_id``: the same components, so the same loading work.

    For the swap benchmark and tests: publishing it makes every ``rasa run`` swap models
    without training a second one.

    Args:
        model: A trained model (``.tar.gz``).
        folder: Where the copy goes (and, for a moment, its unpacked files).
        label: Appended to the model id and the file name.
    """
    unpacked = folder / f"unpacked-{label}"
    with tarfile.open(model) as archive:
        archive.extractall(unpacked, filter="data")
    metadata_file = unpacked / "metadata.json"
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    metadata["model_id"] = f"{metadata['model_id']}-{label}"
    metadata_file.write_text(json.dumps(metadata), encoding="utf-8")
    copy = folder / f"{model.stem.removesuffix('.tar')}-{label}.tar.gz"
    with tarfile.open(copy, "w:gz") as archive:
        for path in sorted(unpacked.iterdir()):
            archive.add(path, arcname=path.name)
    shutil.rmtree(unpacked)
    return copy


def create_app(directory: Path, name: str = "kesher-models") -> Sanic:
    """The model server for ``directory``.

    Routes: ``GET /models/kesher.tar.gz`` (the model; ``304`` when the caller has it),
    ``GET /models/current`` (what is published, as JSON), ``GET /health``, ``GET /metrics``.
    """
    app = Sanic(name, error_handler=SafeErrorHandler())

    async def served() -> List[Metric]:
        meta = published(directory)
        return [gauge("kesher_model_published_timestamp_seconds", "When the model served now was published "
                      "(epoch seconds; 0: none).", meta.published_at if meta else 0.0)]

    setup_metrics(app, [served])

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    @app.get("/models/current")
    async def current(request: Request) -> HTTPResponse:
        meta = published(directory)
        if meta is None:
            return json_response({"error": "no model published yet"}, status=404)
        return json_response(meta.__dict__)

    @app.get(f"/models/{MODEL_FILE}")
    async def model(request: Request) -> HTTPResponse:
        meta = published(directory)
        if meta is None:
            MODEL_PULLS.labels("none").inc()
            return json_response({"error": "no model published yet"}, status=404)
        if request.headers.get("if-none-match", "") == meta.etag:
            MODEL_PULLS.labels("not_modified").inc()
            return empty(status=304, headers={"ETag": meta.etag})
        MODEL_PULLS.labels("sent").inc()
        # Streamed: a model is ~125 MB. (Sanic 21.12 types handlers as returning HTTPResponse only.)
        return await file_stream(directory / MODEL_FILE, mime_type="application/gzip",  # type: ignore[return-value]
                                 headers={"ETag": meta.etag, "filename": MODEL_FILE})

    return app
