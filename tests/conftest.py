from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.rules import RuleSet
from monitor.text import Analyzer

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="session")
def model():
    """The bundled Whisper base, loaded once for every test that transcribes."""
    from monitor.asr import ModelOptions, load_model

    return load_model(ModelOptions(cpu_threads=2))


@pytest.fixture(scope="session")
def shipped(analyzer: Analyzer) -> RuleSet:
    ruleset, problems = RuleSet.load([RULES], analyzer)
    assert problems == [], "\n".join(map(str, problems))
    return ruleset


@pytest.fixture(scope="session")
def written(analyzer: Analyzer) -> RuleSet:
    """The written rules: every shipped pack but the learned one, which is trained on the dev sets."""
    ruleset, problems = RuleSet.load([p for p in sorted(RULES.glob("*.yaml")) if p.name != "ja-learned.yaml"], analyzer)
    assert problems == [], "\n".join(map(str, problems))
    return ruleset


PACK_HEAD = """\
pack:
  id: {pack_id}
  name: test pack
  version: "1"
  language: ja
rules:
"""


@pytest.fixture
def write_pack(tmp_path: Path):
    """Write a pack made of the given rules YAML (indented under `rules:`) and return its path."""

    def write(rules_yaml: str, name: str = "p.yaml", pack_id: str | None = None, raw: str | None = None) -> Path:
        path = tmp_path / name
        if raw is not None:
            path.write_text(textwrap.dedent(raw), encoding="utf-8")
        else:
            head = PACK_HEAD.format(pack_id=pack_id or Path(name).stem)
            path.write_text(head + textwrap.indent(textwrap.dedent(rules_yaml), "  "), encoding="utf-8")
        return path

    return write


def rule_yaml(
    rid: str = "t.rule", examples_match=("ばかですね", "バカだ"), examples_no=("バカンスです", "そればかり"), **fields
) -> str:
    """One rule in YAML with sensible defaults; fields override or add (values are YAML text)."""
    base = {
        "id": rid,
        "category": "abusive",
        "severity": "warning",
        "message": "侮辱的な表現です",
        "suggestion": "丁寧な表現にしてください",
        "tokens": "馬鹿",
    }
    base.update(fields)
    lines = [f"- id: {base.pop('id')}"]
    for k, v in base.items():
        if v is None:
            continue
        lines.append(f"  {k}: {v}")
    lines.append("  examples:")
    lines.append("    match: [" + ", ".join(examples_match) + "]")
    lines.append("    no_match: [" + ", ".join(examples_no) + "]")
    return "\n".join(lines) + "\n"
