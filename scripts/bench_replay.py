#!/usr/bin/env python3
"""Benchmark replay: speed (x real time) and detection recall/precision per category.

The labelled utterances of tests/data/dev_sentences*.yaml (synthesised with several voices and
speeds, some telephone-band, some noisy; audio made by scripts/make_dev_sentences.py) are joined
into calls of ~10 utterances with a second of silence between them, and replayed through the
monitor as fast as possible. In the same run, the baseline: plain faster-whisper transcription of
the same calls (model.transcribe, beam 5) and a substring search for the packs' words in each segment.
The "transcript only" column is the monitor's own decode with the rules reading the transcript
alone, not the decoder's other hypotheses (no extra decoding: its speed is the monitor's).

    .venv/bin/python scripts/bench_replay.py --audio-dir /work/dev-audio --audio-dir /work/dev-audio-b \
        --audio-dir /work/dev-audio-c --audio-dir /work/dev-audio-d --audio-dir /work/dev-audio-e \
        --audio-dir /work/dev-audio-f          # one folder per set, in the sets' name order
    .venv/bin/python scripts/bench_replay.py --set tests/data/dev_sentences_c.yaml \
        --audio-dir /work/dev-audio-c          # one set
    ... --rules DIR                            # other packs than rules/ (e.g. a model left out of a set)

An utterance counts as caught when an alert of its category overlaps it in time; an alert counts as
correct when it overlaps an utterance of its category.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.asr import ModelOptions, load_model  # noqa: E402
from monitor.audio import SAMPLE_RATE, decode_file  # noqa: E402
from monitor.events import Segment  # noqa: E402
from monitor.pipeline import CallMonitor, MonitorOptions  # noqa: E402
from monitor.rules import RuleSet  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_rules import pack_words  # noqa: E402


def load_utterances(sets: list[Path], audio_dirs: list[Path]) -> list[dict]:
    """Every labelled sentence whose audio (<id>.wav) is found in one of the audio folders."""
    out = []
    for data, audio_dir in zip(sets, audio_dirs, strict=True):
        for s in yaml.safe_load(data.read_text(encoding="utf-8"))["sentences"]:
            wav = audio_dir / f"{s['id']}.wav"
            if wav.is_file():
                out.append({**s, "key": f"{data.stem}:{s['id']}", "wav": wav})
    return out


def build_calls(
    utts: list[dict], per_call: int, gap_s: float = 1.0
) -> list[tuple[np.ndarray, list[tuple[float, float, dict]]]]:
    calls = []
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32)
    for i in range(0, len(utts), per_call):
        parts, spans, t = [], [], gap_s
        parts.append(gap)
        for u in utts[i : i + per_call]:
            audio = decode_file(u["wav"]).channel(0)
            spans.append((t, t + len(audio) / SAMPLE_RATE, u))
            parts += [audio, gap]
            t += len(audio) / SAMPLE_RATE + gap_s
        calls.append((np.concatenate(parts), spans))
    return calls


def score(found: list[tuple[str, float, float]], spans, tally) -> None:
    """found: (category, start, end) alerts of one call."""
    for cat, s, e in found:
        hit = [u for (us, ue, u) in spans if s < ue + 0.5 and e > us - 0.5]
        tally["alerts"][cat] += 1
        tally["correct"][cat] += any(u.get("category") == cat for u in hit)
    for us, ue, u in spans:
        cat = u.get("category")
        if cat:
            tally["total"][cat] += 1
            tally["caught"][cat] += any(c == cat and s < ue + 0.5 and e > us - 0.5 for c, s, e in found)
        else:
            tally["clean"]["all"] += 1
            tally["false"]["all"] += any(s < ue + 0.5 and e > us - 0.5 for c, s, e in found)


def new_tally():
    return {k: defaultdict(int) for k in ("alerts", "correct", "total", "caught", "clean", "false")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", action="append", type=Path, help="labelled YAML (default: tests/data/dev_sentences*.yaml)")
    ap.add_argument(
        "--audio-dir", action="append", type=Path, required=True, help="audio folder for each --set, in order"
    )
    ap.add_argument("--per-call", type=int, default=10, help="utterances joined into one call")
    ap.add_argument("--gap", type=float, default=1.0, help="seconds of silence between the utterances of a call")
    ap.add_argument("--cpu-threads", type=int, default=2)
    ap.add_argument("--rules", action="append", type=Path, help="rule packs or folders (default: rules/)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    ap.add_argument(
        "--stream", action="store_true", help="also run the streaming path of live / --realtime (not paced)"
    )
    args = ap.parse_args()
    sets = args.set or sorted((ROOT / "tests/data").glob("dev_sentences*.yaml"))
    if len(sets) != len(args.audio_dir):
        ap.error(f"{len(sets)} sets but {len(args.audio_dir)} --audio-dir")
    utts = load_utterances(sets, args.audio_dir)
    if args.limit:
        utts = utts[: args.limit]
    if not utts:
        print("no audio found: run scripts/make_dev_sentences.py first (see its --help)", file=sys.stderr)
        return 2
    ruleset, problems = RuleSet.load(args.rules)
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    calls = build_calls(utts, args.per_call, args.gap)
    audio_s = sum(len(a) for a, _ in calls) / SAMPLE_RATE
    model = load_model(ModelOptions(cpu_threads=args.cpu_threads))
    words = pack_words(ruleset)

    from monitor.asr import transcribe_recording

    ours, best, base = new_tally(), new_tally(), new_tally()
    t0 = time.perf_counter()
    for i, (audio, spans) in enumerate(calls):
        # Required phrases are call-level (these joined utterances are no real call): left out.
        monitor = CallMonitor(ruleset, f"bench-{i}", options=MonitorOptions(required=False))
        # The same segments with the rules on the transcript only, not the other hypotheses.
        one = CallMonitor(ruleset, f"bench-{i}", options=MonitorOptions(required=False, alternatives=False))
        found, found_one = [], []
        for seg in transcribe_recording(model, audio):
            for mon, out in ((monitor, found), (one, found_one)):
                out += [
                    (e["category"], e["audio_start"], e["audio_end"]) for e in mon.segment(seg) if e["type"] == "alert"
                ]
        score(found, spans, ours)
        score(found_one, spans, best)
    ours_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for audio, spans in calls:
        segments, _ = model.transcribe(audio, language="ja", beam_size=5)
        found = []
        for s in segments:
            seg = Segment(s.text, s.start, s.end)
            for cat, ws in words.items():
                if any(w in seg.text for w in ws):
                    found.append((cat, seg.start, seg.end))
        score(found, spans, base)
    base_s = time.perf_counter() - t0

    columns = [("monitor", ours, ours_s), ("transcript only", best, ours_s), ("baseline", base, base_s)]
    if args.stream:
        from monitor.audio import BufferSource
        from monitor.pipeline import LiveMonitor, LiveOptions

        stream = new_tally()
        t0 = time.perf_counter()
        for i, (audio, spans) in enumerate(calls):
            source = BufferSource(audio)  # as fast as the loop takes it: same results on any machine
            source.open()
            options = LiveOptions(call_gap=0, monitor=MonitorOptions(required=False))
            live = LiveMonitor(source, ruleset, model, options, call_id=f"bench-{i}")
            found = [(e["category"], e["audio_start"], e["audio_end"]) for e in live.events() if e["type"] == "alert"]
            score(found, spans, stream)
        columns.insert(1, ("streaming", stream, time.perf_counter() - t0))

    cats = sorted(ours["total"])
    print(f"utterances: {len(utts)} in {len(calls)} calls, {audio_s:.0f} s of audio; {args.cpu_threads} cpu threads")
    print()
    print(f"{'':<16}{'n':>4}" + "".join(f"  {name:>17}" for name, _, _ in columns))
    print(f"{'category':<16}{'':>4}" + "".join(f"  {'recall':>8} {'prec.':>8}" for _ in columns))

    def cells(t: dict, cat: str | None) -> str:
        caught = t["caught"][cat] if cat else sum(t["caught"].values())
        total = t["total"][cat] if cat else sum(t["total"].values())
        correct = t["correct"][cat] if cat else sum(t["correct"].values())
        alerts = t["alerts"][cat] if cat else sum(t["alerts"].values())
        recall = caught / total if total else float("nan")
        prec = correct / alerts if alerts else float("nan")
        return f"  {recall:>8.2f} {prec:>8.2f}"

    for cat in cats:
        print(f"{cat:<16}{ours['total'][cat]:>4}" + "".join(cells(t, cat) for _, t, _ in columns))
    print(f"{'all':<16}{sum(ours['total'].values()):>4}" + "".join(cells(t, None) for _, t, _ in columns))
    print(
        f"{'clean w/ alert':<16}{ours['clean']['all']:>4}"
        + "".join(f"  {t['false']['all']:>8}{'':>9}" for _, t, _ in columns)
    )
    print()
    print(
        "speed: "
        + "; ".join(
            f"{name} {audio_s / secs:.1f}x real time ({secs:.0f} s)"
            for name, _, secs in columns
            if name != "transcript only"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
