#!/usr/bin/env python3
"""Train the learned classifier (monitor.learned) that rules/ja-learned.yaml asks, and measure it.

Trains on every labelled dev set (tests/data/dev_sentences*.yaml: each sentence's true text and,
where present, Whisper's transcript of it) and the ordinary call-centre talk (tests/data/talk_*.yaml:
agent and customer lines, all clean), with the written rules' no_match examples and required
phrases as clean lines (monitor.learned.training_lines) and the learned pack's own no_match examples,
and writes rules/ja-learned.model.json.gz. With
`--holdout` it first measures what the model adds on sentences it has not seen: each set in turn
is left out, the model is trained on the others and the set is scored, by the written rules alone
(every pack but ja-learned) and by the rules plus the model, on the true text and on Whisper's
transcript; a talk file left out counts its agent and its customer lines with an alert. With
`--monitor` the rules plus the model are what the monitor alerts when the line is one committed
segment (`CallMonitor`, which also lets the model read each sentence of a long one).

    .venv/bin/python scripts/train_model.py [--holdout] [--only-holdout] [--group N] [--threshold P]
        [--no-vectors] [--no-overrule] [--simulated N] [--monitor]
    .venv/bin/python scripts/train_model.py --leave-out dev_sentences_g.yaml --output /tmp/m.json
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor import vectors  # noqa: E402
from monitor.events import Segment  # noqa: E402
from monitor.learned import CLEAN, Classifier, save, train, training_lines  # noqa: E402
from monitor.pipeline import CallMonitor, MonitorOptions  # noqa: E402
from monitor.rules import RuleSet  # noqa: E402

DATA = ROOT / "tests" / "data"
MODEL = ROOT / "rules" / "ja-learned.model.json.gz"
FIELDS = ("text", "asr")  # what holdout scores
# The probability each category needs. Chosen on a grouped hold-out of the 40 sets no rule's violations
# were fitted to (I-ZV in seven groups of six, each left out of the training in turn; the model with the
# number features, scored with the rules of that afternoon). At the thresholds before (0.55 / 0.55 /
# 0.55 / 0.6) that found 0.888 / 0.824 of true text / transcripts at 0.76 / 1.33 clean lines alerted per
# 18; these find 0.895 / 0.836 at 0.69 / 1.05. Misleading's traps are honest fee and risk disclosures in
# the words of its violations, and at 0.55 it alerted most of the clean lines the model did; 0.65 costs
# 0.04 of misleading's recall (0.83 -> 0.79 on true text) and gains 0.04 of abusive's and 0.03 of
# discrimination's at 0.45. Customers' casual lines (mixed in on a mono recording) alert more at abusive
# 0.45: 8.3 per 18 against 7.2. `--only-holdout --group 6` at 98e5391 (nine folds in file order, the
# talk files one of them; pii at 0.7): 0.896 / 0.877 at 0.90 / 2.41 per 18 (README).
THRESHOLD = 0.65
# pii at 0.7 rather than 0.6: the live path read a garbled opening of the noisy compliant sample call
# (健医の小林と申します, for やまと保険の小林) as a named person's medical record at 0.65; on the hold-out
# above 0.7 costs 0.004 / 0.007 of recall and alerts 0.06 fewer clean lines per 18.
# discrimination at 0.55 rather than 0.45 (2026-12-02): on replays of recorded calls whose sets the model
# had not seen (I+J, model without them; K-P, model without them; both models also trained on near-miss
# talk since kept out), 0.55 alerted 6 fewer of 224 clean utterances (39 -> 33: neutral mentions such as
# シングルマザーの方向け, ご高齢のお客様向け read as discrimination) and found 3 fewer of 656 violations;
# with a model trained on the shipped data without K-P, 31 -> 27 of K-P's 168 and 415 -> 413 of 492.
# misleading 0.75 traded 6 for 7; abusive and pii higher lost more than they saved.
# Since the evening of 2026-12-02 the trainer is stable (the bias has its own step; before, it jumped
# between two values every step and a fold's model depended on the parity of its last step: 401 steps
# instead of 400 alerted 56 of the 800 near-miss lines, not 14, at the same thresholds) and weighs a clean line 3 times a
# violation (CLEAN_WEIGHT). Its probabilities are surer of clean, so the thresholds are lower. On the
# grouped hold-out (`/tmp/exp/hold.py`, six sets at a time, the near-miss files c and d in training, e and
# f scored by the full model): 0.40 / 0.30 / 0.50 / 0.55 found 0.907 / 0.843 of the unfitted true text /
# transcripts at 0.60 / 1.12 clean lines alerted per 18 and alerted 13 of near-miss e and f's 400; the
# unstable trainer at the thresholds before, 0.891 / 0.857 at 0.58 / 1.61 and 10 of 400.
# Pii at 0.6, not 0.55: the live path read the noisy compliant sample call's garbled opening (健医の
# 小林と申します) as a named person's medical record at 0.56-0.59 (the learned pack's katakana-PIN
# example of then scored 0.64); on the same hold-out 0.6 finds 0.906 / 0.840 (0.001 / 0.003 less)
# at the same 0.60 / 1.12 per 18, and one near-miss line fewer.
# Pii at 0.65 since the reading features (below): the live path read the misleading sample call's garbled
# いえ、こちらの当時進宅は、ガンポン補償です (元本保証) as pii at 0.61 (~ショー of 暗証 and 免許証, がん);
# on the hold-out 0.65 finds 0.001 - 0.002 less, on the K-P replay 3 of 492 fewer, no clean line more.
# Since the made-up transcripts (SIMULATED, 2026-12-02, night): 0.35 / 0.5 / 0.45 / 0.6. The grouped
# hold-out (`--only-holdout --group 6`), each line's probabilities kept and the thresholds swept
# afterwards over 0.25-0.5 / 0.3-0.6 / 0.35-0.55 (pii at 0.65): at every rate of the unfitted
# transcripts' clean lines alerted, the best thresholds of the model with made-up transcripts found
# 0.01-0.03 more of their violations than the best of the model without (0.64 per 18: 0.832 against
# 0.803; 0.76: 0.845 / 0.826; 0.92: 0.851 / 0.835; 0.96: 0.853 / 0.841), true text alike (0.90-0.91 at
# 0.5-0.6). Abusive at 0.5: at 0.3 that model read the no-notice sample call's garbled ご予約のお名前を
# 頂戴できますか (こう予約のお名前を 輝いてきますか: 来る + か, as in 電話してくるんですか) as abusive
# 0.45. Pii at 0.6: at 0.65 it missed the learned pack's own example of a card number read in kana
# (よんごーろくなな, 0.63); the misleading sample's garble above reads 0.57. Here: transcripts 0.854
# at 0.92, text 0.909 at 0.58, agent talk 18 of 700 — the thresholds before, without made-up
# transcripts, 0.846 at 1.12, 0.911 at 0.59, 16.
# Since the trainer went to the minimum (SOLVER, L2, CHARS; 2026-12-03): 0.5 / 0.5 / 0.6 / 0.6, round
# figures near the best of a sweep over the records of the grouped hold-out (README: "To the minimum").
# Misleading at 0.6, not 0.5: the abusive sample call's streaming commit 今から説明しますので (the first
# half of …黙って聞いてください) read misleading 0.58; on the hold-out 0.6 finds 0.909 of the unfitted
# transcripts at 0.88 per 18 (0.915 at 0.96 at 0.5), true text 0.945 at 0.55.
THRESHOLDS = {"discrimination": 0.5, "abusive": 0.5, "misleading": 0.6, "pii": 0.6}
# Abusive and discrimination read together (learned.train's `joint`): a line the model splits between
# them (an insult that is also a slur, or a line writers label either way) is each of the two where
# both together reach 0.5 and it has 0.15. On the grouped hold-out's records (the shipped trainer, lines
# of the sets no rule was fitted to): unfitted transcripts 0.909 -> 0.921 at 0.88 -> 0.92 per 18 (abusive
# 0.903 -> 0.926, discrimination 0.918 -> 0.943), true text 0.945 -> 0.952 at 0.55 -> 0.59, agent talk
# 15 of 700 either way, customer lines 51 -> 53 of 100; the cost: 110 alerts of the other category of
# the two on 6,068 violation lines (a line read abusive 0.83 also alerts discrimination at 0.17; at 0.25,
# 53 such alerts and 0.918). Both only where each has 0.15: 0.919 at 0.88; only the likelier of the two
# where both together reach 0.5: 0.911 at 0.92.
JOINT = {"categories": ["abusive", "discrimination"], "threshold": 0.5, "least": 0.15}
# A clean line's weight in the loss beside a violation's 1 (same hold-out, c and d not in training):
# stable with weight 1, at 0.55 / 0.45 / 0.65 / 0.7, 0.916 / 0.855 at 0.82 / 1.69 per 18 and 16 of near-miss
# e and f's 400 alerted; weight 3 at 0.4 / 0.3 / 0.5 / 0.55, 0.915 / 0.857 at 0.73 / 1.45 and 14.
CLEAN_WEIGHT = 3.0
# The line's reading, three kana at a time, joins the features (learned.features): Whisper writes the
# right sound in the wrong kanji (開薬 for 解約, 痛く for 委託, やちん for 家賃). Same hold-out, at the
# thresholds above: true text 0.913 -> 0.915 at 0.67 -> 0.68 clean lines alerted per 18, transcripts of
# A-P 0.848 -> 0.849 at 1.12 -> 0.88, of ZO-ZR/ZZB/ZZF 0.848 at 1.39 -> 1.18; replayed calls of K-P
# and I+J (models without them) 539 of 656 found either way, clean utterances alerted 15 -> 9 of 224.
# Two kana: 536 at 11; four: 537 at 12.
READING = 3
# Where a written rule (of a pack the learned rule's `overrules` names) gives way: the model reads the
# line as clean with 0.8 or more and as the rule's category with under 0.1. On the hold-out of the 20
# unfitted sets this took the clean lines alerted (rules and model, true text) from 1.38 to 0.84 per 18
# (transcripts 1.29 -> 1.12) for 0.871 -> 0.870 recall; 0.05 / 0.2 below: 1.00 / 0.80 per 18. On the
# sets the rules were written for (A, B, each left out of the model) it costs 0.09 of their recall:
# rules that learned one sentence by heart, which the model has not seen.
OVERRULE = {"clean": 0.8, "below": 0.1}
# `--simulated N`: N made-up transcripts of each dev sentence Whisper has not transcribed
# (monitor.learned.Slips: the slips it made on the transcribed ones, at their rates). On the grouped
# hold-out (`--only-holdout --group 6`, data of 19bdabb, the thresholds then) 2 found 0.860 of the
# unfitted sets' transcripts' violations with 0.76 clean lines alerted per 18, against 0.845 at 1.08
# without (true text 0.920 at 0.65, against 0.913 at 0.59); an experiment script of the same algorithm
# gave 0.850 at 0.80 with 1, 3 no better than 2. Shipped since the thresholds above.
SIMULATED = 2
# How the model is fitted (2026-12-03). Until then: 400 steps of gradient descent from zero at l2 1e-4,
# which stops far from the minimum — a strong regulariser of its own. Fitted to the minimum by L-BFGS
# with a weak l2 and the text's character runs of 1-3 as features too (CHARS: what survives of a word
# the recogniser misspelled), the grouped hold-out's unfitted transcripts went from 0.854 at 0.92 clean
# lines alerted per 18 to 0.915 at 0.96, their true text from 0.910 at 0.59 to 0.950 at 0.62 (agent
# talk 18 -> 17 of 700; README: "To the minimum"). The l2 is scikit-learn's C = 10 on this data: the loss
# is a weighted mean, so l2 = 1 / (10 x the summed line weights) ~ 3e-6.
SOLVER = "lbfgs"
L2 = 3e-6
ITERATIONS = 1000
CHARS = 3


# The sets the written rules were fitted to (A-H); the others measure how rules + model generalise.
FITTED = {"dev_sentences.yaml", *(f"dev_sentences_{c}.yaml" for c in "bcdefgh")}
TALK = "talk_*.yaml"  # ordinary call-centre talk, every line clean (agent and customer lines)


def training_files() -> list[Path]:
    return sorted(DATA.glob("dev_sentences*.yaml")) + sorted(DATA.glob(TALK))


def dev_sets() -> dict[str, list[dict]]:
    """Each training file's sentences; an ordinary-talk file's lines as clean sentences."""
    out = {}
    for p in training_files():
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        if "lines" in data:
            out[p.name] = [{**line, "category": None} for line in data["lines"]]
        else:
            out[p.name] = data["sentences"]
    return out


def data_digests() -> dict[str, str]:
    """sha256 of each training file: a test checks the shipped model is not older than its data."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in training_files()}


def own_examples() -> list[tuple[str, None]]:
    """The learned pack's own no_match examples, as clean lines: they say what it must not raise
    (カード番号の下四桁でご本人確認を… scored pii 0.94 from a model that had never seen it)."""
    pack = yaml.safe_load((ROOT / "rules" / "ja-learned.yaml").read_text(encoding="utf-8"))
    return [(t, None) for r in pack["rules"] for t in r.get("examples", {}).get("no_match", [])]


def fit(
    ruleset: RuleSet,
    sentences: list[dict],
    threshold: float | None,
    word_vectors: bool = True,
    overrule: bool = True,
    simulate: int = 0,
) -> dict:
    """Train on these sentences (and `simulate` made-up transcripts of each dev sentence Whisper has not
    transcribed, from the slips it made on these sentences' transcripts); `threshold` for every
    category, or None for THRESHOLDS."""
    lines = training_lines(sentences, ruleset, simulate=simulate) + own_examples()
    return train(
        [ruleset.analyze(t) for t, _ in lines],
        [c for _, c in lines],
        threshold=THRESHOLD if threshold is None else threshold,
        thresholds=THRESHOLDS if threshold is None else None,
        joint=JOINT if threshold is None else None,
        vectors=vectors.load() if word_vectors else None,
        overrule=OVERRULE if overrule else None,
        clean_weight=CLEAN_WEIGHT,
        reading=READING,
        chars=CHARS,
        solver=SOLVER,
        l2=L2,
        iterations=ITERATIONS,
    )


def overrules() -> dict[str, set[str]]:
    """Per category, the packs whose rules the learned pack's rule of that category overrules."""
    pack = yaml.safe_load((ROOT / "rules" / "ja-learned.yaml").read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for r in pack["rules"]:
        names = r.get("overrules", [])
        out.setdefault(r["category"], set()).update([names] if isinstance(names, str) else names)
    return out


@functools.cache
def learned_rules() -> dict[str, Any]:
    """The learned pack's rule of each category (its `unless` quiets the model as in the monitor)."""
    ruleset, problems = RuleSet.load([ROOT / "rules" / "ja-learned.yaml"])
    if problems:
        raise SystemExit("\n".join(map(str, problems)))
    return {r.category: r for r in ruleset.rules}


def model_found(model: Classifier, doc: Any, rules: dict[str, Any]) -> set[str]:
    """The categories the model alerts on the line, after its pack rule's `unless` (each category's
    span found once, as `RuleSet.match` does)."""
    out = set()
    for c in model.categories:
        spans = model.find(doc, c) if c != CLEAN else []
        rule = rules.get(c)
        if spans and (rule is None or rule.hits(doc, [(s, e, ()) for s, e in spans])):
            out.add(c)
    return out


def _count(
    ruleset: RuleSet, model: Classifier, items: list[dict], field: str, monitor: RuleSet | None = None
) -> list[int]:
    """n, found by the rules, found by rules + model, clean, alerted by the rules, alerted by both.
    With `monitor` (every pack, the model among them), "both" is what a `CallMonitor` with those
    packs alerts when the line is one committed segment (the model also reads its sentences)."""
    t = [0, 0, 0, 0, 0, 0]
    overruled = overrules()
    pack_rules = learned_rules()
    for s in items:
        doc = ruleset.analyze(s[field])
        judged: set[str] = set()
        hits = [h for h in ruleset.match(doc, judged=judged) if h.category != "required_phrase"]
        by_rules = {h.category for h in hits}
        if monitor is not None:
            events = CallMonitor(monitor, "holdout", options=MonitorOptions(required=False)).segment(
                Segment(s[field], 0.0, 0.0)
            )
            by_both = {e["category"] for e in events if e["type"] == "alert"}
        else:
            # as in the monitor: the model overrules the rules of the packs its pack names, and is
            # quiet where a rule's unless spoke
            kept = {
                h.category
                for h in hits
                if not (h.pack in overruled.get(h.category, ()) and model.clears(doc, h.category))
            }
            by_both = kept | model_found(model, doc, pack_rules) - judged
        if s.get("category"):
            t[0] += 1
            t[1] += s["category"] in by_rules
            t[2] += s["category"] in by_both
        else:
            t[3] += 1
            t[4] += bool(by_rules)
            t[5] += bool(by_both)
    return t


def _score_left_out(
    ruleset: RuleSet, model: Classifier, name: str, items: list[dict], add: Any, monitor: RuleSet | None = None
) -> None:
    """Score one left-out file and print its lines: a talk file's agent and customer lines apart."""
    if name.startswith("talk_"):
        for who in ("agent", "customer"):
            t = _count(ruleset, model, [s for s in items if s.get("speaker") == who], "text", monitor)
            add(f"{who} talk", t)
            print(f"{name:<24}{who[:5]:<6}{'':>4}{'':>8}{'':>8}{t[3]:>7}{t[4]:>7}{t[5]:>8}", flush=True)
        return
    for field in FIELDS:
        scored = [s for s in items if s.get(field)]
        if not scored:
            continue
        t = _count(ruleset, model, scored, field, monitor)
        add(field, t)
        if name not in FITTED:
            add(f"{field}, unfitted sets", t)
        print(
            f"{name:<24}{field:<6}{t[0]:>4}{t[1] / t[0]:>8.2f}{t[2] / t[0]:>8.2f}{t[3]:>7}{t[4]:>7}{t[5]:>8}",
            flush=True,
        )


def holdout(
    ruleset: RuleSet,
    sets: dict[str, list[dict]],
    threshold: float | None,
    word_vectors: bool = True,
    overrule: bool = True,
    group: int = 1,
    monitor: bool = False,
    simulate: int = 0,
) -> None:
    """Leave each set out in turn (or `group` sets at a time, in file order: fewer trainings, and a
    model that has seen fewer writers) and score it with the model trained on the rest; with
    `monitor`, as the monitor reads a segment (`_count`)."""
    print(f"{'left out':<24}{'field':<6}{'n':>4}{'rules':>8}{'+model':>8}{'clean':>7}{'false':>7}{'+model':>8}")
    # Per field, and the ordinary talk's agent and customer lines apart (all clean)
    totals = {
        k: [0, 0, 0, 0, 0, 0]
        for k in (*FIELDS, *(f"{f}, unfitted sets" for f in FIELDS), "agent talk", "customer talk")
    }

    def add(key: str, t: list[int]) -> None:
        totals[key] = [a + b for a, b in zip(totals[key], t, strict=True)]

    names = list(sets)
    for at in range(0, len(names), group):
        out = names[at : at + group]
        train_on = [s for k, v in sets.items() if k not in out for s in v]
        trained = fit(ruleset, train_on, threshold, word_vectors, overrule, simulate)
        model = Classifier(trained)
        packs = None
        if monitor:  # every pack, with this model in place of the shipped one
            with tempfile.TemporaryDirectory() as tmp:
                for p in (ROOT / "rules").glob("*.yaml"):
                    shutil.copy(p, tmp)
                save(trained, Path(tmp) / MODEL.name)
                packs, problems = RuleSet.load([tmp], analyzer=ruleset.analyzer, verify=False)
            if problems:  # (a pack left out would be measured as missing)
                raise SystemExit("\n".join(map(str, problems)))
        for name in out:
            _score_left_out(ruleset, model, name, sets[name], add, packs)
    print()
    for key, t in totals.items():
        if t[0]:
            print(
                f"all sets, {key}: recall {t[1] / t[0]:.3f} rules alone, {t[2] / t[0]:.3f} with the model; "
                f"clean lines with an alert {t[4]} and {t[5]} of {t[3]} "
                f"({18 * t[4] / t[3]:.2f} and {18 * t[5] / t[3]:.2f} per 18)"
            )
        elif t[3]:
            print(
                f"ordinary {key}: lines with an alert {t[4]} rules alone, {t[5]} with the model, of {t[3]} "
                f"({18 * t[4] / t[3]:.2f} and {18 * t[5] / t[3]:.2f} per 18)"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--holdout", action="store_true", help="measure on each set left out first")
    ap.add_argument("--only-holdout", action="store_true", help="measure, but do not write the model")
    ap.add_argument(
        "--threshold", type=float, help="probability every category needs (default: per category, THRESHOLDS)"
    )
    ap.add_argument(
        "--no-vectors", action="store_true", help="lemma features only, without word vectors (the baseline)"
    )
    ap.add_argument(
        "--no-overrule", action="store_true", help="the model never overrules a written rule (the baseline)"
    )
    ap.add_argument(
        "--simulated",
        type=int,
        default=SIMULATED,
        metavar="N",
        help=f"train on N made-up transcripts of each untranscribed dev sentence (default {SIMULATED}; 0: none)",
    )
    ap.add_argument(
        "--monitor", action="store_true", help="score each held-out line as one segment of the monitor (CallMonitor)"
    )
    ap.add_argument("--group", type=int, default=1, help="hold out this many sets at a time, in file order (default 1)")
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
        holdout(
            ruleset,
            sets,
            args.threshold,
            not args.no_vectors,
            not args.no_overrule,
            args.group,
            args.monitor,
            args.simulated,
        )
    if args.only_holdout:
        return 0
    t = time.perf_counter()
    unknown = set(args.leave_out) - set(sets)
    if unknown:
        ap.error(f"no such dev set: {', '.join(sorted(unknown))}")
    sets = {k: v for k, v in sets.items() if k not in args.leave_out}
    model = fit(
        ruleset,
        [s for v in sets.values() for s in v],
        args.threshold,
        not args.no_vectors,
        not args.no_overrule,
        args.simulated,
    )
    model["trained_on"] = {k: v for k, v in data_digests().items() if k in sets}
    save(model, args.output)
    print(
        f"\nwrote {args.output}: {len(model['weights'])} features, "
        f"{sum(len(v) for v in sets.values())} sentences of {len(sets)} sets, {time.perf_counter() - t:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
