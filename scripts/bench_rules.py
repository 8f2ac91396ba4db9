#!/usr/bin/env python3
"""Benchmark the rule engine: analysis + matching cost per segment, and pack compile time.

Runs the shipped packs and a generated pack of N rules (default 5,000) over ~40-character
segments, next to a baseline in the same run: a plain substring search for every rule's words
(what a keyword list would do; it cannot see conjugations, kana spellings or readings).

    .venv/bin/python scripts/bench_rules.py [--rules 5000] [--segments 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.rules import RuleSet, load_pack  # noqa: E402
from monitor.text import Analyzer  # noqa: E402


def corpus(ruleset: RuleSet) -> list[str]:
    """Sentences to cut segments from: every example of the shipped packs."""
    return [t for r in ruleset.rules for t, _ in (*r.match_examples, *r.no_match_examples)]


def segments(sentences: list[str], n: int, rng: random.Random, length: int = 40) -> list[str]:
    out = []
    for _ in range(n):
        s = ""
        while len(s) < length:
            s += rng.choice(sentences)
        out.append(s[:length])
    return out


def generated_pack(path: Path, n: int, analyzer: Analyzer, sentences: list[str], rng: random.Random) -> list[list[str]]:
    """Write a pack of n rules built from real words; return each rule's words (for the baseline)."""
    lemmas: list[str] = []
    readings: list[str] = []
    for s in sentences:
        for t in analyzer.analyze(s).words:
            # Content words, as rule authors write them; not する/いる/こと, which no rule keys on.
            if (
                t.pos in ("名詞", "動詞", "形容詞")
                and t.pos2 not in ("非自立可能", "数詞")
                and len(t.lemma) >= 2
                and not t.surface.isascii()
            ):
                lemmas.append(t.lemma)
                readings.append(t.reading)
    lemmas = sorted(set(lemmas))
    readings = sorted({r for r in readings if len(r) >= 4})
    lines = ['pack: {id: bench-generated, name: generated, version: "1", language: ja}', "rules:"]
    words: list[list[str]] = []
    for i in range(n):
        kind = rng.random()
        lines.append(f"  - id: gen.r{i}")
        lines.append(f"    category: {rng.choice(['abusive', 'misleading', 'discrimination'])}")
        lines.append(f"    severity: {rng.choice(['info', 'warning', 'critical'])}")
        lines.append("    message: generated")
        lines.append("    suggestion: generated")
        if kind < 0.7:
            a, b = rng.sample(lemmas, 2)
            lines.append(f"    tokens: '{a} ...{rng.randint(1, 4)} {b}'")
            words.append([a, b])
        elif kind < 0.9:
            r = rng.choice(readings)
            lines.append(f"    reading: '{r}'")
            words.append([r])
        else:
            a, b = rng.sample(lemmas, 2)
            lines.append(f"    regex: '{a}(?:を|が|は)?{b}'")
            words.append([a, b])
        lines.append("    examples: {match: [x, y], no_match: [x, y]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return words


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def time_each(fn, items) -> list[float]:
    out = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=5000, help="rules in the generated pack")
    ap.add_argument("--segments", type=int, default=2000, help="segments to match")
    ap.add_argument("--repeat", type=int, default=5, help="compile repetitions (median is reported)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    analyzer = Analyzer()
    analyzer.analyze("準備")  # load the dictionary before timing

    shipped, problems = RuleSet.load([Path(os.environ.get("BENCH_RULES", ROOT / "rules"))], analyzer)
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    shipped_files = [p.path for p in shipped.packs]
    compile_shipped = statistics.median(
        _timed(lambda: [load_pack(f, analyzer, verify=False) for f in shipped_files]) for _ in range(args.repeat)
    )
    verify_shipped = statistics.median(
        _timed(lambda: [load_pack(f, analyzer, verify=True) for f in shipped_files]) for _ in range(args.repeat)
    )
    sentences = corpus(shipped)
    segs = segments(sentences, args.segments, rng)

    with tempfile.TemporaryDirectory() as tmp:
        gen_path = Path(tmp) / "generated.yaml"
        gen_words = generated_pack(gen_path, args.rules, analyzer, sentences, rng)
        compile_gen = statistics.median(
            _timed(lambda: load_pack(gen_path, analyzer, verify=False)) for _ in range(max(1, args.repeat // 2))
        )
        gen_pack = load_pack(gen_path, analyzer, verify=False)
    big = RuleSet([*shipped.packs, gen_pack], analyzer)

    # Baseline: every rule's words as plain substrings (no analysis at all).
    shipped_words = [[p.source for p in r.tokens] for r in shipped.line_rules]
    shipped_words = [
        [w for src in ws for w in src.replace("|", " ").split() if not w.startswith("...")] for ws in shipped_words
    ]

    def substring(words: list[list[str]]):
        def run(text: str) -> int:
            return sum(1 for ws in words if all(w in text for w in ws))

        return run

    for warm in segs[:50]:
        big.match(warm)
    rows = [
        ("analysis only (fugashi + readings)", time_each(analyzer.analyze, segs)),
        (f"shipped packs ({len(shipped.line_rules)} rules)", time_each(shipped.match, segs)),
        (f"shipped + generated ({len(big.line_rules)} rules)", time_each(big.match, segs)),
        (f"baseline: substring, {len(shipped_words)} rules", time_each(substring(shipped_words), segs)),
        (
            f"baseline: substring, {len(shipped_words) + len(gen_words)} rules",
            time_each(substring(shipped_words + gen_words), segs),
        ),
    ]
    print(f"segments: {len(segs)} x {len(segs[0])} characters; python {sys.version.split()[0]}")
    print()
    print(f"{'per segment (analysis + matching)':<44} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, ms in rows:
        print(f"{name:<44} {percentile(ms, 50):>8.3f} {percentile(ms, 99):>8.3f} {statistics.mean(ms):>8.3f}")
    print()
    print(f"{'pack compile (median of runs)':<44} {'seconds':>8}")
    print(f"{'shipped packs, compile only':<44} {compile_shipped:>8.3f}")
    print(f"{'shipped packs, compile + run all examples':<44} {verify_shipped:>8.3f}")
    print(f"{f'generated pack, {args.rules} rules, compile':<44} {compile_gen:>8.3f}")
    p99 = percentile(rows[2][1], 99)
    print()
    print(
        f"goal: <= 2 ms p99 per segment with {args.rules} rules: {'met' if p99 <= 2 else 'NOT met'} ({p99:.3f} ms); "
        f"compile <= 1 s: {'met' if compile_gen <= 1 else 'NOT met'} ({compile_gen:.3f} s)"
    )
    return 0


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(main())
