"""Audio in: recorded files decoded with PyAV (any format, rate and channel count) to 16 kHz float32.

Live capture (the microphone) arrives through the same `Frames` shape: blocks of mono 16 kHz
samples with the audio time at which each block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SAMPLE_RATE", "AudioError", "Recording", "decode_file", "frames"]

SAMPLE_RATE = 16000


class AudioError(Exception):
    """A file that cannot be used as a call recording; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Recording:
    """A decoded call: one row of 16 kHz float32 samples per channel."""

    path: str
    channels: np.ndarray  # shape (n_channels, n_samples)

    @property
    def duration(self) -> float:
        return self.channels.shape[1] / SAMPLE_RATE

    def channel(self, which: str | int) -> np.ndarray:
        """`left` (0), `right` (1) or an index; a mono file has only channel 0."""
        index = {"left": 0, "right": 1}.get(which, which) if isinstance(which, str) else which
        if isinstance(index, str):
            try:
                index = int(index)
            except ValueError:
                raise AudioError(f"{self.path}: unknown channel '{which}' (left, right or a number)") from None
        n = self.channels.shape[0]
        if not 0 <= index < n:
            raise AudioError(f"{self.path}: has {n} channel{'s' if n != 1 else ''}, no channel {which}")
        return self.channels[index]


def decode_file(path: str | Path) -> Recording:
    """Decode any file PyAV reads (WAV, FLAC, MP3, OGG, M4A, …) to 16 kHz float32, channels kept.

    Raises:
        AudioError: missing, empty, truncated, corrupt or non-audio files, in one line each.
    """
    try:
        import av
    except ImportError as e:  # pragma: no cover - faster-whisper depends on it
        raise RuntimeError("decoding audio files needs PyAV: pip install av") from e
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file")
    blocks: list[np.ndarray] = []
    try:
        with av.open(str(p), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{p}: no audio stream in this file")
            stream = container.streams.audio[0]
            n_channels = stream.codec_context.channels or 1
            layout = "mono" if n_channels == 1 else ("stereo" if n_channels == 2 else None)
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        blocks.append(out.to_ndarray())
            except av.error.InvalidDataError:
                # A truncated or damaged tail: keep what decoded, unless nothing did.
                if not blocks:
                    raise
            for out in resampler.resample(None):
                blocks.append(out.to_ndarray())
    except AudioError:
        raise
    except av.error.FFmpegError as e:
        raise AudioError(f"{p}: not a readable audio file ({e.strerror or type(e).__name__})") from e
    if not blocks:
        raise AudioError(f"{p}: no audio samples in this file")
    audio = np.concatenate(blocks, axis=1).astype(np.float32, copy=False)
    if audio.shape[1] < SAMPLE_RATE // 10:
        raise AudioError(f"{p}: shorter than 0.1 s")
    return Recording(str(p), audio)


def frames(samples: np.ndarray, block: float = 0.1) -> Iterator[tuple[np.ndarray, float]]:
    """Blocks of samples, each with the audio time (seconds) at which it ends."""
    step = int(SAMPLE_RATE * block)
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        yield chunk, (start + len(chunk)) / SAMPLE_RATE
