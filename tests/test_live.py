"""Live monitoring: a real audio device (a PulseAudio null sink) and the in-package fake source."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from monitor.audio import SAMPLE_RATE, BufferSource, LinearResampler, MicSource, decode_file, write_wav
from monitor.pipeline import LiveMonitor, LiveOptions

from .conftest import ROOT

pytestmark = pytest.mark.model
SAMPLE = ROOT / "samples" / "call-02-misleading.flac"


def excerpt(tmp_path: Path, start: float, end: float) -> tuple[Path, np.ndarray]:
    """The agent's side of the sample call from start to end, as a mono WAV."""
    x = decode_file(SAMPLE).channel("left")[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    return write_wav(tmp_path / "agent.wav", x), x


def misleading_line() -> dict:
    labels = json.loads(SAMPLE.with_name("call-02-misleading.labels.json").read_text(encoding="utf-8"))
    return next(ln for ln in labels["lines"] if "misleading" in ln.get("expect", []))


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A private PulseAudio server with a null sink `agent_headset`; its monitor is the mic."""
    for tool in ("pulseaudio", "paplay"):
        assert shutil.which(tool), f"{tool} missing: scripts/test installs pulseaudio and pulseaudio-utils"
    runtime = tmp_path_factory.mktemp("pulse")
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "HOME": str(runtime),
    }
    subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--disallow-exit",
         "--load=module-null-sink sink_name=agent_headset", "--load=module-native-protocol-unix"],
        env=env, check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    env["PULSE_SOURCE"] = "agent_headset.monitor"
    yield env
    subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=30)


def test_devices_lists_the_pulse_device(pulse):
    r = subprocess.run(
        [sys.executable, "-m", "monitor", "devices", "--json"],
        env=pulse,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    names = [json.loads(x)["name"] for x in r.stdout.splitlines()]
    assert "pulse" in names


def test_unknown_device_is_a_one_line_error(pulse):
    r = subprocess.run(
        [sys.executable, "-m", "monitor", "live", "--device", "no-such-headset", "--no-panel"],
        env=pulse, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "speech-monitor devices" in r.stderr


def test_live_on_a_real_device_raises_the_labelled_alert(pulse, tmp_path):
    line = misleading_line()
    start = line["start"] - 3.0
    wav, _ = excerpt(tmp_path, start, line["end"] + 1.0)
    out = tmp_path / "events.jsonl"
    live = subprocess.Popen(
        [sys.executable, "-m", "monitor", "live", "--device", "pulse", "--no-panel", "--json", str(out),
         "--duration", "16", "--cpu-threads", "2", "--agent", "A-7"],
        env=pulse, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3.0)  # model loaded, stream open
    subprocess.run(["paplay", "-d", "agent_headset", str(wav)], env=pulse, check=True, timeout=60)
    _, err = live.communicate(timeout=120)
    assert live.returncode == 0, err
    events = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert events[0]["type"] == "call_start" and events[-1]["type"] == "call_end"
    assert all(e["agent"] == "A-7" for e in events)
    alerts = [e for e in events if e["type"] == "alert" and e["category"] == "misleading"]
    assert alerts, ([(e.get("text"), e.get("audio_start")) for e in events if e["type"] == "segment"], err[-3000:])
    # Wall clock and audio clock agree: the alert comes soon after the words were spoken.
    latency = alerts[0]["emitted_at"] - alerts[0]["audio_end"]
    assert 0 <= latency < 5.0, latency


def test_fake_source_paced_call_and_call_split(model, shipped):
    line = misleading_line()
    x = decode_file(SAMPLE).channel("left")[
        int((line["start"] - 1) * SAMPLE_RATE) : int((line["end"] + 0.5) * SAMPLE_RATE)
    ]
    silence = np.zeros(int(4 * SAMPLE_RATE), dtype=np.float32)
    source = BufferSource(np.concatenate([x, silence, x, silence]))
    live = LiveMonitor(source, shipped, model, LiveOptions(agent="B-1", call_gap=3.0))
    events = list(live.events())
    starts = [e for e in events if e["type"] == "call_start"]
    ends = [e for e in events if e["type"] == "call_end"]
    assert len(starts) == len(ends) >= 2  # the silence ended the first call
    assert len({e["call_id"] for e in starts}) == len(starts)
    by_call = {
        s["call_id"]: [
            e for e in events if e["call_id"] == s["call_id"] and e["type"] == "alert" and e["category"] == "misleading"
        ]
        for s in starts
    }
    assert sum(1 for alerts in by_call.values() if alerts) >= 2


def test_overload_drops_are_reported_never_silent():
    source = MicSource.__new__(MicSource)
    MicSource.__init__(source, None, block=0.1, max_queue=1.0)
    block = np.zeros((1600, 1), dtype=np.float32)
    for _ in range(15):
        source._callback(block, 1600, None, None)
    assert len(source.queue) == 10  # bounded
    assert abs(source.dropped - 0.5) < 1e-6
    assert abs(source.backlog - 1.0) < 1e-6


def test_resampler_keeps_time():
    r = LinearResampler(44100)
    tone = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)
    out = np.concatenate([r(tone[i : i + 4410]) for i in range(0, 44100, 4410)])
    assert abs(len(out) - 16000) <= 1
    # Still a 440 Hz tone: zero crossings per second.
    crossings = np.count_nonzero(np.diff(np.signbit(out)))
    assert abs(crossings - 880) <= 4


def test_same_alert_is_not_repeated_within_the_cooldown(shipped):
    from monitor.events import Segment, Word
    from monitor.pipeline import CallMonitor, MonitorOptions

    now = [0.0]
    monitor = CallMonitor(shipped, "c", clock=lambda: now[0], options=MonitorOptions(cooldown=10.0, required=False))

    def say(text: str, t: float) -> list[dict]:
        now[0] = t + 1.0
        words = tuple(Word(ch, t + i * 0.1, t + (i + 1) * 0.1) for i, ch in enumerate(text))
        return [
            e for e in monitor.segment(Segment(text, t, t + len(text) * 0.1, "agent", words)) if e["type"] == "alert"
        ]

    assert len(say("バカなんですか。", 0.0)) == 1
    assert say("バカなんですか。", 5.0) == []  # 5 s later: the agent is not nagged twice
    assert len(say("バカなんですか。", 20.0)) == 1


def test_stop_event_ends_the_stream(model, shipped):
    x = decode_file(SAMPLE).channel("left")[: 6 * SAMPLE_RATE]
    source = BufferSource(x, paced=True)
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    t = time.monotonic()
    events = list(LiveMonitor(source, shipped, model, LiveOptions()).events(stop))
    assert time.monotonic() - t < 5.0
    assert events[-1]["type"] == "call_end"


def test_a_device_silent_before_the_call_does_not_count_into_latency(model, shipped):
    # A null sink delivers nothing until something plays (and a stalled driver nothing for a
    # while): the call's clock must run from when the audio arrived, not from when the monitor began.
    line = misleading_line()
    x = decode_file(SAMPLE).channel("left")[
        int((line["start"] - 1) * SAMPLE_RATE) : int((line["end"] + 1.0) * SAMPLE_RATE)
    ]
    source = BufferSource(x, paced=True)
    source.open()
    source.t0 += 4.0  # its first block arrives 4 s from now
    events = list(LiveMonitor(source, shipped, model, LiveOptions(call_gap=0)).events())
    alerts = [e for e in events if e["type"] == "alert" and e["category"] == "misleading"]
    assert alerts
    latency = alerts[0]["emitted_at"] - alerts[0]["audio_end"]
    assert 0 <= latency < 4.0, latency  # was 4 s more than the decode took


def test_mic_blocks_carry_when_they_were_captured():
    source = MicSource.__new__(MicSource)
    MicSource.__init__(source, None, block=0.1)
    source._resample = LinearResampler(SAMPLE_RATE)

    class Info:  # PortAudio's time_info: the block's first sample was converted 0.35 s ago
        currentTime, inputBufferAdcTime = 100.35, 100.0

    t = time.monotonic()
    source._callback(np.zeros((1600, 1), dtype=np.float32), 1600, Info(), None)
    assert source.read() is not None
    # Its last sample: 0.1 s after the first, so 0.25 s before the callback ran.
    assert abs((t - 0.25) - source.captured_at) < 0.05


class Flaky(BufferSource):
    """A device that vanishes after `lost_at` seconds of audio and is back on the next open()."""

    def __init__(self, samples: np.ndarray, lost_at: float) -> None:
        super().__init__(samples, paced=True)
        self.lost_at = int(lost_at * SAMPLE_RATE)
        self.lost = False
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        self.lost = False
        if self.opens == 1:
            super().open()
        else:  # back: the audio goes on from where the device went away
            self.t0 = time.monotonic() - self.pos / SAMPLE_RATE

    @property
    def active(self) -> bool:
        return not self.lost and super().active

    def read(self) -> np.ndarray | None:
        if self.opens == 1 and self.pos >= self.lost_at:
            self.lost = True
        return None if self.lost else super().read()


def test_a_vanished_device_is_reported_and_reopened_without_losing_audio(model, shipped):
    line = misleading_line()
    x = decode_file(SAMPLE).channel("left")[
        int((line["start"] - 0.5) * SAMPLE_RATE) : int((line["end"] + 1.0) * SAMPLE_RATE)
    ]
    source = Flaky(x, lost_at=2.0)  # gone in the middle of the line
    source.open()
    live = LiveMonitor(source, shipped, model, LiveOptions(call_gap=0))
    events = list(live.events())
    assert source.ended  # the loop went on after the device came back
    assert source.opens == 2 and live.status.reconnects == 1
    assert live.status.note == ""  # the panel's "device lost" is gone once audio flows again
    text = "".join(e["text"] for e in events if e["type"] == "segment")
    assert "絶対" in text, text  # the words on both sides of the gap are there
    assert [e for e in events if e["type"] == "alert" and e["category"] == "misleading"]


def test_no_portaudio_is_one_line_that_says_what_to_install(tmp_path):
    fake = tmp_path / "sounddevice.py"
    fake.write_text('raise OSError("PortAudio library not found")\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    for args in (["devices"], ["live", "--device", "0", "--no-panel", "--duration", "1"]):
        r = subprocess.run([sys.executable, "-m", "monitor", *args], env=env, cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "apt-get install libportaudio2" in lines[0], r.stderr


def test_panel_is_readable_at_80_columns():
    from rich.console import Console

    from monitor.panel import PanelState
    from monitor.pipeline import LiveStatus

    status = LiveStatus(device="agent_headset.monitor", model="base int8", level_db=-20, latency=0.9, backlog=0.3)
    status.tail = "ただいまお調べいたしますので少々お待ちください"
    panel = PanelState(live=status)
    panel({"type": "call_start", "call_id": "A-07-20261128-101500-1", "agent": "A-07"})
    long = "この商品なら絶対に儲かりますので、今のうちにお申し込みいただくのがよろしいかと存じます。" * 2
    panel({"type": "segment", "speaker": "agent", "text": long, "audio_start": 62.0, "audio_end": 70.0})
    panel(
        {"type": "alert", "severity": "critical", "text": "絶対に儲かります", "audio_start": 63.0, "audio_end": 64.5,
         "message": "利益を断定する表現です（金融商品取引法の断定的判断の提供）",
         "suggestion": "「値動きがあり、元本を割り込むおそれがあります」と説明してください"}
    )  # fmt: skip
    console = Console(width=80, record=True, color_system=None)
    console.print(panel)
    out = console.export_text()
    assert max(len(ln) for ln in out.splitlines()) <= 80
    flat = out.replace("\n", "").replace("│", "").replace(" ", "")
    for needle in (
        "01:02",
        "絶対に儲かります",
        "critical",
        "元本を割り込むおそれ",
        "baseint8",
        "latency0.9s",
        "agentA-07",
    ):
        assert needle in flat, (needle, out)
