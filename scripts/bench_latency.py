#!/usr/bin/env python3
"""Benchmark alert latency: how long after the offending words end does the agent see the alert.

For every labelled agent line of the sample calls (samples/*.labels.json) that should raise an
alert, latency = the alert's emitted_at - the line's end in the audio, along three paths in one run:

- realtime: `replay --realtime` (the audio fed at its own pace, as a microphone would),
- pulse: `live` on a real device (a PulseAudio null sink, the agent channel played with paplay),
- baseline: fixed 5-second chunks, each transcribed once when complete, no agreement.

    .venv/bin/python scripts/bench_latency.py [--paths realtime,pulse,baseline] [--calls call-02,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.asr import ModelOptions, load_model  # noqa: E402
from monitor.audio import SAMPLE_RATE, decode_file, write_wav  # noqa: E402
from monitor.pipeline import ReplayOptions, replay  # noqa: E402
from monitor.rules import RuleSet  # noqa: E402


def expected_lines(labels: dict) -> list[tuple[dict, str]]:
    return [(ln, c) for ln in labels["lines"] if ln["speaker"] == "agent" for c in ln.get("expect", [])]


def match(alerts: list[dict], expected, offset: float = 0.0) -> list[float | None]:
    """Latency per expected line (None: missed); alerts' times are in call audio (+offset)."""
    out: list[float | None] = []
    pool = list(alerts)
    for line, cat in expected:
        start, end = line["start"] + offset, line["end"] + offset
        found = [
            a for a in pool if a["category"] == cat and a["audio_start"] < end + 1.0 and a["audio_end"] > start - 0.5
        ]
        if found:
            pool.remove(found[0])
            out.append(found[0]["emitted_at"] - end)
        else:
            out.append(None)
    return out


def run_realtime(path: Path, ruleset, model) -> list[dict]:
    events = replay(str(path), ruleset, model, ReplayOptions(realtime=True))
    return [e for e in events if e["type"] == "alert"]


def run_baseline(agent: np.ndarray, ruleset, model) -> list[dict]:
    """Fixed 5 s chunks: decoded when complete; emitted when the decode is done."""
    alerts = []
    chunk = 5 * SAMPLE_RATE
    for start in range(0, len(agent), chunk):
        piece = agent[start : start + chunk]
        t = time.perf_counter()
        segments, _ = model.transcribe(
            piece, language="ja", beam_size=1, temperature=0.0, condition_on_previous_text=False
        )
        text = "".join(s.text for s in segments)
        took = time.perf_counter() - t
        end = (start + len(piece)) / SAMPLE_RATE
        for h in ruleset.match(text):
            alerts.append(
                {"category": h.category, "audio_start": start / SAMPLE_RATE, "audio_end": end, "emitted_at": end + took}
            )
    return alerts


def run_pulse(agent: np.ndarray, ruleset, model, tmp: Path) -> tuple[list[dict], float]:
    """Play the agent channel into a null sink and run the live monitor on its monitor source.

    Returns the alerts and where the call's audio begins in what the device delivered (seconds),
    found by cross-correlating the two: paplay takes a varying while to start playing, and a null
    sink delivers nothing until it does, so no wall-clock guess can stand in for it.
    """
    from monitor.audio import MicSource
    from monitor.pipeline import LiveMonitor, LiveOptions

    class Recorded(MicSource):
        heard: list[np.ndarray] = []

        def read(self) -> np.ndarray | None:
            block = super().read()
            if block is not None:
                self.heard.append(block)
            return block

    wav = write_wav(tmp / "agent.wav", agent)
    source = Recorded("pulse")
    source.heard = []
    source.open()
    live = LiveMonitor(source, ruleset, model, LiveOptions(call_gap=0, duration=len(agent) / SAMPLE_RATE + 4.0))

    def play() -> None:
        time.sleep(1.0)
        subprocess.run(["paplay", "-d", "agent_headset", str(wav)], check=True)

    player = threading.Thread(target=play)
    player.start()
    alerts = [e for e in live.events() if e["type"] == "alert"]
    player.join()
    source.close()
    return alerts, lag(np.concatenate(source.heard), agent) / SAMPLE_RATE


def lag(heard: np.ndarray, played: np.ndarray) -> int:
    """The sample of `heard` where `played` begins (cross-correlation of their first 20 s)."""
    a, b = heard[: 40 * SAMPLE_RATE], played[: 20 * SAMPLE_RATE]
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    k = int(np.argmax(corr))
    return k if k < len(a) else k - n  # past the end: a negative lag (the first samples were lost)


def start_pulse(tmp: Path) -> dict:
    if not shutil.which("pulseaudio") or not shutil.which("paplay"):
        raise SystemExit("the pulse path needs pulseaudio and pulseaudio-utils (scripts/setup installs them)")
    env = {"XDG_RUNTIME_DIR": str(tmp), "PULSE_RUNTIME_PATH": str(tmp / "pulse")}
    os.environ.update(env)
    subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "--disallow-exit",
         "--load=module-null-sink sink_name=agent_headset", "--load=module-native-protocol-unix"],
        check=True, capture_output=True,
    )  # fmt: skip
    for _ in range(50):
        if subprocess.run(["pactl", "info"], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    os.environ["PULSE_SOURCE"] = "agent_headset.monitor"
    return env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", default="realtime,pulse,baseline")
    ap.add_argument("--calls", default="", help="comma-separated call ids (default: every sample with expected alerts)")
    ap.add_argument("--cpu-threads", type=int, default=2)
    args = ap.parse_args()
    paths = args.paths.split(",")
    ruleset, problems = RuleSet.load(None)
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    model = load_model(ModelOptions(cpu_threads=args.cpu_threads))
    labels = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "samples").glob("*.labels.json"))]
    labels = [
        lab for lab in labels if expected_lines(lab) and (not args.calls or lab["call_id"] in args.calls.split(","))
    ]
    results: dict[str, list[float | None]] = {p: [] for p in paths}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if "pulse" in paths:
            start_pulse(tmp)
        try:
            for lab in labels:
                flac = ROOT / "samples" / f"{lab['call_id']}.flac"
                agent = decode_file(flac).channel("left")
                expected = expected_lines(lab)
                for path in paths:
                    if path == "realtime":
                        lat = match(run_realtime(flac, ruleset, model), expected)
                    elif path == "baseline":
                        lat = match(run_baseline(agent, ruleset, model), expected)
                    else:
                        alerts, offset = run_pulse(agent, ruleset, model, tmp)
                        lat = match(alerts, expected, offset)
                    results[path] += lat
                    shown = ", ".join("miss" if x is None else f"{x:.1f}" for x in lat)
                    print(f"{lab['call_id']:<26} {path:<9} {shown}", file=sys.stderr)
        finally:
            if "pulse" in paths:
                subprocess.run(["pulseaudio", "--kill"], capture_output=True)
    print(f"\n{'path':<10}{'alerts':>7}{'missed':>8}{'p50 s':>8}{'p95 s':>8}{'max s':>8}")
    for path, lat in results.items():
        got = sorted(x for x in lat if x is not None)
        if got:
            p95 = got[min(len(got) - 1, round(0.95 * (len(got) - 1)))]
            print(
                f"{path:<10}{len(lat):>7}{lat.count(None):>8}{statistics.median(got):>8.2f}{p95:>8.2f}{got[-1]:>8.2f}"
            )
        else:
            print(f"{path:<10}{len(lat):>7}{lat.count(None):>8}{'-':>8}{'-':>8}{'-':>8}")
    print("\nlatency = emitted_at - end of the offending line in the audio; goal p50 <= 1.0 s, p95 <= 2.0 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
