"""Audio in: recorded files decoded with PyAV (any format, rate and channel count) to 16 kHz float32.

Live capture (the microphone) arrives through the same `Frames` shape: blocks of mono 16 kHz
samples with the audio time at which each block ends.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "BufferSource",
    "DeviceError",
    "LinearResampler",
    "MicSource",
    "Recording",
    "decode_file",
    "input_devices",
    "write_wav",
]

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


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE, channels: int = 1) -> Path:
    """Write float samples (interleaved when channels > 1) as a 16-bit PCM WAV file."""
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return Path(path)


# --------------------------------------------------------------------------- live capture


class DeviceError(Exception):
    """No usable input device (or no PortAudio); the message says what to do, in one line."""


def _sounddevice():
    try:
        import sounddevice
    except OSError as e:  # the Python package is there, the C library is not
        raise DeviceError(
            "PortAudio library not found: install it (Debian/Ubuntu: apt-get install libportaudio2)"
        ) from e
    except ImportError as e:
        raise DeviceError("live capture needs sounddevice: pip install sounddevice") from e
    return sounddevice


def input_devices() -> list[dict]:
    """Input devices as PortAudio sees them: index, name, channels, default rate, host API."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except sd.PortAudioError as e:
        raise DeviceError(f"cannot list audio devices: {e}") from e
    try:
        default_in = sd.default.device[0]
    except Exception:  # noqa: BLE001 - no default is fine
        default_in = -1
    return [
        {
            "index": i,
            "name": d["name"],
            "channels": d["max_input_channels"],
            "default_samplerate": d["default_samplerate"],
            "hostapi": apis[d["hostapi"]]["name"],
            "default": i == default_in,
        }
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


class LinearResampler:
    """Streaming resampler to 16 kHz (linear interpolation, state kept between blocks)."""

    def __init__(self, rate: float) -> None:
        self.step = rate / SAMPLE_RATE
        self.pos = 0.0  # position of the next output sample, in input samples from `last`
        self.last = np.zeros(1, dtype=np.float32)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if self.step == 1.0:
            return block
        data = np.concatenate([self.last, block])
        n_out = int((len(data) - 1 - self.pos) / self.step) + 1 if len(data) - 1 >= self.pos else 0
        x = self.pos + self.step * np.arange(n_out)
        out = np.interp(x, np.arange(len(data)), data).astype(np.float32)
        self.pos = self.pos + self.step * n_out - (len(data) - 1)
        self.last = data[-1:]
        return out


class MicSource:
    """Mono 16 kHz blocks from an input device. The PortAudio callback only copies into a bounded
    queue; when the consumer falls behind, the oldest audio is dropped and counted, never silently.
    """

    def __init__(self, device: str | int | None = None, block: float = 0.1, max_queue: float = 60.0) -> None:
        self.device = int(device) if isinstance(device, str) and device.isdigit() else device
        self.block = block
        self.queue: deque[tuple[np.ndarray, float]] = deque()  # (block, when its last sample was captured)
        self.captured_at = 0.0  # monotonic time the last sample read() returned was captured
        self.max_blocks = int(max_queue / block)
        self.lock = threading.Lock()
        self.dropped = 0.0  # seconds of audio dropped because the queue was full
        self.stream = None
        self.rate = SAMPLE_RATE
        self.name = str(device) if device is not None else "default"
        self.errors = 0
        self._resample: LinearResampler | None = None

    def open(self) -> None:
        sd = _sounddevice()
        try:
            info = sd.query_devices(self.device, "input")
        except (ValueError, sd.PortAudioError) as e:
            raise DeviceError(f"no input device {self.device!r}: {e}; list them with: speech-monitor devices") from e
        self.name = info["name"]
        for rate in (SAMPLE_RATE, int(info["default_samplerate"])):
            try:
                self.stream = sd.InputStream(
                    device=self.device,
                    channels=1,
                    samplerate=rate,
                    blocksize=int(rate * self.block),
                    dtype="float32",
                    callback=self._callback,
                )
                self.stream.start()
                self.rate = rate
                self._resample = LinearResampler(rate)
                return
            except sd.PortAudioError as e:
                last = e
                self.stream = None
        raise DeviceError(f"cannot open input device {self.name!r} (busy or unsupported): {last}")

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio's thread: copy only
        # When the block's last sample was captured: now, less what PortAudio says the block
        # waited between the converter and this call (the device's own buffering).
        now = time.monotonic()
        if time_info is not None:
            waited = time_info.currentTime - time_info.inputBufferAdcTime - frames / self.rate
            if 0.0 < waited < 1.0:
                now -= waited
        with self.lock:
            if len(self.queue) >= self.max_blocks:
                dropped, _ = self.queue.popleft()
                self.dropped += len(dropped) / self.rate
            self.queue.append((indata[:, 0].copy(), now))

    @property
    def backlog(self) -> float:
        """Seconds of captured audio waiting to be read."""
        with self.lock:
            return sum(len(b) for b, _ in self.queue) / self.rate

    @property
    def active(self) -> bool:
        return self.stream is not None and bool(self.stream.active)

    ended = False  # a microphone's stream does not end by itself

    def read(self) -> np.ndarray | None:
        """The next captured block at 16 kHz, or None if nothing is waiting."""
        with self.lock:
            if not self.queue:
                return None
            block, self.captured_at = self.queue.popleft()
        assert self._resample is not None
        return self._resample(block)

    def close(self) -> None:
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            except Exception:  # noqa: BLE001 - a vanished device may fail to close
                pass
            self.stream = None


class BufferSource:
    """An in-memory stand-in for MicSource (same methods), for tests and paced replay: blocks of a
    16 kHz array, released as fast as asked or at the pace of a clock."""

    def __init__(self, samples: np.ndarray, block: float = 0.1, paced: bool = False, name: str = "buffer") -> None:
        self.samples = samples.astype(np.float32, copy=False)
        self.step = int(SAMPLE_RATE * block)
        self.pos = 0
        self.paced = paced
        self.name = name
        self.dropped = 0.0
        self.t0: float | None = None

    def open(self) -> None:
        self.t0 = time.monotonic()

    def close(self) -> None:
        pass

    @property
    def active(self) -> bool:
        return self.pos < len(self.samples)

    @property
    def ended(self) -> bool:
        """All of the buffer has been read: the stream is over (a microphone never is)."""
        return self.pos >= len(self.samples)

    @property
    def backlog(self) -> float:
        if not self.paced or self.t0 is None:
            return 0.0
        due = min(len(self.samples), int((time.monotonic() - self.t0) * SAMPLE_RATE))
        return max(0, due - self.pos) / SAMPLE_RATE

    @property
    def captured_at(self) -> float:
        """Monotonic time the last sample read was "captured": when it was due, paced; now, not."""
        if not self.paced or self.t0 is None:
            return time.monotonic()
        return self.t0 + self.pos / SAMPLE_RATE

    def read(self) -> np.ndarray | None:
        if self.pos >= len(self.samples):
            return None
        if self.paced:
            if self.t0 is None:
                self.t0 = time.monotonic()
            if (time.monotonic() - self.t0) * SAMPLE_RATE < self.pos + self.step:
                return None
        block = self.samples[self.pos : self.pos + self.step]
        self.pos += self.step
        return block
