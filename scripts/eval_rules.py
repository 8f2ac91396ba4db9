#!/usr/bin/env python3
"""Detection quality of the rule packs on labelled sentences, true text and Whisper's transcript.

Reads a YAML file of sentences (`tests/data/dev_sentences.yaml` by default: `text`, `asr`,
`category` or null for a clean sentence) and prints recall per category and false alerts on clean
sentences, for the rule engine and for a baseline in the same run: plain substring search for the
words in the packs' token patterns (what a keyword list does).

    .venv/bin/python scripts/eval_rules.py [FILE] [--misses] [--rules DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.rules import RuleSet  # noqa: E402


def pack_words(ruleset: RuleSet) -> dict[str, list[str]]:
    """Each category's plain words, from its rules' token patterns (the baseline's keyword list)."""
    words: dict[str, list[str]] = defaultdict(list)
    for r in ruleset.line_rules:
        for tp in r.tokens:
            for element in tp.source.split():
                for alt in element.rstrip("?").split("|"):
                    if alt.startswith("...") or "=" in alt or alt == "*" or len(alt) < 2:
                        continue
                    words[r.category].append(alt)
    return words


def evaluate(ruleset: RuleSet, sentences: list[dict], field: str) -> dict:
    """Counts for one text field ('text' or 'asr'): caught per category, false alerts on clean."""
    caught: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    false_alerts: list[tuple[str, str, list[str]]] = []
    misses: list[tuple[str, str]] = []
    for s in sentences:
        text = s.get(field)
        if text is None:
            continue
        hits = ruleset.match(text)
        cat = s.get("category")
        if cat:
            total[cat] += 1
            if any(h.category == cat for h in hits):
                caught[cat] += 1
            else:
                misses.append((s["id"], text))
        elif hits:
            false_alerts.append((s["id"], text, [h.rule_id for h in hits]))
    clean = sum(1 for s in sentences if not s.get("category") and s.get(field) is not None)
    return {"caught": caught, "total": total, "false": false_alerts, "clean": clean, "misses": misses}


def baseline(words: dict[str, list[str]], sentences: list[dict], field: str) -> dict:
    caught: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    false = 0
    for s in sentences:
        text = s.get(field)
        if text is None:
            continue
        cat = s.get("category")
        found = {c for c, ws in words.items() if any(w in text for w in ws)}
        if cat:
            total[cat] += 1
            caught[cat] += cat in found
        elif found:
            false += 1
    return {"caught": caught, "total": total, "false": false}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", nargs="?", default=str(ROOT / "tests/data/dev_sentences.yaml"))
    ap.add_argument("--misses", action="store_true", help="list the sentences missed and the false alerts")
    ap.add_argument("--rules", action="append", help="rule packs or folders (default: rules/)")
    args = ap.parse_args()
    data = yaml.safe_load(Path(args.file).read_text(encoding="utf-8"))
    sentences = data["sentences"] if isinstance(data, dict) else data
    ruleset, problems = RuleSet.load(args.rules)
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 2
    words = pack_words(ruleset)
    cats = sorted({s["category"] for s in sentences if s.get("category")})
    results = {f: (evaluate(ruleset, sentences, f), baseline(words, sentences, f)) for f in ("text", "asr")}
    print(f"{'recall':<16}{'n':>4}  {'engine text':>12} {'engine asr':>11}  {'substr text':>12} {'substr asr':>11}")
    for cat in [*cats, "all"]:
        row = []
        for f in ("text", "asr"):
            for res in results[f]:
                c = sum(res["caught"].values()) if cat == "all" else res["caught"][cat]
                t = sum(res["total"].values()) if cat == "all" else res["total"][cat]
                row.append(c / t if t else float("nan"))
        n = sum(results["text"][0]["total"].values()) if cat == "all" else results["text"][0]["total"][cat]
        print(f"{cat:<16}{n:>4}  {row[0]:>12.2f} {row[2]:>11.2f}  {row[1]:>12.2f} {row[3]:>11.2f}")
    e_t, b_t = results["text"]
    e_a, b_a = results["asr"]
    print(
        f"{'false alerts':<16}{e_t['clean']:>4}  {len(e_t['false']):>12} {len(e_a['false']):>11}  "
        f"{b_t['false']:>12} {b_a['false']:>11}   (clean sentences with any alert)"
    )
    if args.misses:
        for f in ("text", "asr"):
            for sid, text in results[f][0]["misses"]:
                print(f"miss  {f:<4} {sid}: {text}")
            for sid, text, rules in results[f][0]["false"]:
                print(f"false {f:<4} {sid}: {text}  <- {', '.join(rules)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
