#!/usr/bin/env python3
"""Train the learned classifier (monitor.learned) that rules/ja-learned.yaml asks, and measure it.

Trains on every labelled dev set (tests/data/dev_sentences*.yaml: each sentence's true text and,
where present, Whisper's transcript of it), with the written rules' no_match examples and required
phrases as clean lines (monitor.learned.training_lines) and the learned pack's own no_match examples,
and writes rules/ja-learned.model.json. With
`--holdout` it first measures what the model adds on sentences it has not seen: each set in turn
is left out, the model is trained on the others and the set is scored, by the written rules alone
(every pack but ja-learned) and by the rules plus the model, on the true text and on Whisper's
transcript.

    .venv/bin/python scripts/train_model.py [--holdout] [--only-holdout] [--threshold P]
    .venv/bin/python scripts/train_model.py --leave-out dev_sentences_g.yaml --output /tmp/m.json
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.learned import Classifier, save, train, training_lines  # noqa: E402
from monitor.rules import RuleSet  # noqa: E402

DATA = ROOT / "tests" / "data"
MODEL = ROOT / "rules" / "ja-learned.model.json"
FIELDS = ("text", "asr")  # what holdout scores
# The probability each category needs. Chosen on the hold-out of 22 sets (train_model --holdout):
# discrimination and abusive gained 196 and 105 violations for 8 and 2 false alerts at 0.65, misleading
# 120 for 23 (its traps are honest risk disclosures that use the same words), pii 42 for 6. Abusive at
# 0.55 did best there, but read a customer's それはもうやりましたよ (0.60) as the agent's insult.
THRESHOLD = 0.65
THRESHOLDS = {"discrimination": 0.6, "abusive": 0.65, "misleading": 0.9, "pii": 0.85}


def dev_sets() -> dict[str, list[dict]]:
    return {
        p.name: yaml.safe_load(p.read_text(encoding="utf-8"))["sentences"]
        for p in sorted(DATA.glob("dev_sentences*.yaml"))
    }


def data_digests() -> dict[str, str]:
    """sha256 of each training file: a test checks the shipped model is not older than its data."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(DATA.glob("dev_sentences*.yaml"))}


def own_examples() -> list[tuple[str, None]]:
    """The learned pack's own no_match examples, as clean lines: they say what it must not raise
    (カード番号の下四桁でご本人確認を… scored pii 0.94 from a model that had never seen it)."""
    pack = yaml.safe_load((ROOT / "rules" / "ja-learned.yaml").read_text(encoding="utf-8"))
    return [(t, None) for r in pack["rules"] for t in r.get("examples", {}).get("no_match", [])]


def fit(ruleset: RuleSet, sentences: list[dict], threshold: float | None) -> dict:
    """Train on these sentences; `threshold` for every category, or None for THRESHOLDS."""
    lines = training_lines(sentences, ruleset) + own_examples()
    return train(
        [ruleset.analyze(t) for t, _ in lines],
        [c for _, c in lines],
        threshold=THRESHOLD if threshold is None else threshold,
        thresholds=THRESHOLDS if threshold is None else None,
    )


def holdout(ruleset: RuleSet, sets: dict[str, list[dict]], threshold: float | None) -> None:
    print(f"{'left out':<24}{'field':<6}{'n':>4}{'rules':>8}{'+model':>8}{'clean':>7}{'false':>7}{'+model':>8}")
    totals = {f: [0, 0, 0, 0, 0, 0] for f in FIELDS}  # n, rules hit, both hit, clean, rules false, both false
    for name in sets:
        model = Classifier(fit(ruleset, [s for k, v in sets.items() if k != name for s in v], threshold))
        for field in FIELDS:
            items = [s for s in sets[name] if s.get(field)]
            if not items:
                continue
            t = [0, 0, 0, 0, 0, 0]
            for s in items:
                doc = ruleset.analyze(s[field])
                judged: set[str] = set()
                by_rules = {h.category for h in ruleset.match(doc, judged=judged)} - {"required_phrase"}
                by_model = model.found(doc) - judged  # as in the monitor: not where a rule's unless spoke
                if s.get("category"):
                    t[0] += 1
                    t[1] += s["category"] in by_rules
                    t[2] += s["category"] in by_rules | by_model
                else:
                    t[3] += 1
                    t[4] += bool(by_rules)
                    t[5] += bool(by_rules | by_model)
            totals[field] = [a + b for a, b in zip(totals[field], t, strict=True)]
            print(
                f"{name:<24}{field:<6}{t[0]:>4}{t[1] / t[0]:>8.2f}{t[2] / t[0]:>8.2f}{t[3]:>7}{t[4]:>7}{t[5]:>8}",
                flush=True,
            )
    print()
    for field, t in totals.items():
        if t[0]:
            print(
                f"all sets, {field}: recall {t[1] / t[0]:.3f} rules alone, {t[2] / t[0]:.3f} with the model; "
                f"clean lines with an alert {t[4]} and {t[5]} of {t[3]} "
                f"({18 * t[4] / t[3]:.2f} and {18 * t[5] / t[3]:.2f} per 18)"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--holdout", action="store_true", help="measure on each set left out first")
    ap.add_argument("--only-holdout", action="store_true", help="measure, but do not write the model")
    ap.add_argument(
        "--threshold", type=float, help="probability every category needs (default: per category, THRESHOLDS)"
    )
    ap.add_argument("--leave-out", action="append", default=[], help="a dev set file name to train without")
    ap.add_argument("--output", type=Path, default=MODEL, help=f"where to write the model (default {MODEL.name})")
    args = ap.parse_args()
    packs = [p for p in sorted((ROOT / "rules").glob("*.yaml")) if p.name != "ja-learned.yaml"]
    ruleset, problems = RuleSet.load(packs)
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    sets = dev_sets()
    if args.holdout or args.only_holdout:
        holdout(ruleset, sets, args.threshold)
    if args.only_holdout:
        return 0
    t = time.perf_counter()
    unknown = set(args.leave_out) - set(sets)
    if unknown:
        ap.error(f"no such dev set: {', '.join(sorted(unknown))}")
    sets = {k: v for k, v in sets.items() if k not in args.leave_out}
    model = fit(ruleset, [s for v in sets.values() for s in v], args.threshold)
    model["trained_on"] = {k: v for k, v in data_digests().items() if k in sets}
    save(model, args.output)
    print(
        f"\nwrote {args.output}: {len(model['weights'])} features, "
        f"{sum(len(v) for v in sets.values())} sentences of {len(sets)} sets, {time.perf_counter() - t:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
