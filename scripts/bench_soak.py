#!/usr/bin/env python3
"""Soak the live loop: a long call (the sample calls' agent channels, looped) through the streaming
transcriber and the call monitor, watching memory and the cost of keeping up.

The audio is fed as fast as the loop takes it (not paced), so an hour of audio takes what its
decoding costs; "load" is that cost per second of audio: below 1.0 the live loop keeps up with a
microphone on this machine. Resident memory (RSS) is sampled every `--every` minutes of audio; a
flat column is what a 60-minute call needs. The baseline row is the same loop's first sample.

    .venv/bin/python scripts/bench_soak.py --minutes 60 [--every 5]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.asr import ModelOptions, load_model  # noqa: E402
from monitor.audio import SAMPLE_RATE, BufferSource, decode_file  # noqa: E402
from monitor.pipeline import LiveMonitor, LiveOptions  # noqa: E402
from monitor.rules import RuleSet  # noqa: E402


def rss_mb() -> float:
    """Current resident memory (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Looped(BufferSource):
    """The sample calls' agent channels, one after another, for `seconds` of audio."""

    def __init__(self, pieces: list[np.ndarray], seconds: float) -> None:
        one = np.concatenate(pieces)
        reps = int(np.ceil(seconds * SAMPLE_RATE / len(one)))
        super().__init__(np.tile(one, reps)[: int(seconds * SAMPLE_RATE)], name="soak")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=5.0, help="minutes of audio between samples")
    args = ap.parse_args()
    ruleset, problems = RuleSet.load(None)
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    model = load_model(ModelOptions(cpu_threads=2))
    pieces = [decode_file(p).channel("left") for p in sorted((ROOT / "samples").glob("*.flac"))]
    source = Looped(pieces, args.minutes * 60)
    source.open()
    # One call for the whole hour (call_gap 0): the worst case for anything kept per call.
    live = LiveMonitor(source, ruleset, model, LiveOptions(call_gap=0, agent="soak"))
    rows = [(0.0, rss_mb(), 0.0, 0, 0)]
    t0 = time.perf_counter()
    next_at, last_t, last_audio = args.every * 60, t0, 0.0
    segments = alerts = 0
    for ev in live.events():
        segments += ev["type"] == "segment"
        alerts += ev["type"] == "alert"
        audio = live.monitor.audio_end
        if audio >= next_at:
            now = time.perf_counter()
            rows.append((audio / 60, rss_mb(), (now - last_t) / max(audio - last_audio, 1e-9), segments, alerts))
            print(f"{audio / 60:6.1f} min  rss {rows[-1][1]:7.1f} MiB  load {rows[-1][2]:.2f}", file=sys.stderr)
            next_at += args.every * 60
            last_t, last_audio = now, audio
    took = time.perf_counter() - t0
    print(f"\n{'audio min':>9}{'RSS MiB':>9}{'load':>7}{'segments':>10}{'alerts':>8}")
    for minute, mb, load, segs, n in rows:
        print(f"{minute:>9.1f}{mb:>9.1f}{load:>7.2f}{segs:>10}{n:>8}")
    print(
        f"\n{args.minutes:.0f} min of audio in {took:.0f} s (load {took / (args.minutes * 60):.2f}); "
        f"RSS {rows[1][1] if len(rows) > 1 else rows[0][1]:.0f} -> {rows[-1][1]:.0f} MiB "
        f"(first sample after {args.every:g} min is the baseline)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
