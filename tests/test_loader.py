"""A broken pack is refused with file:line; the other packs keep working; reload keeps the old one."""

from __future__ import annotations

import os

import pytest

from monitor.rules import PackError, RuleSet, load_pack

from .conftest import PACK_HEAD, rule_yaml


def problems_of(path, analyzer) -> list[str]:
    with pytest.raises(PackError) as e:
        load_pack(path, analyzer)
    return [str(p) for p in e.value.problems]


def test_a_good_pack_loads(write_pack, analyzer):
    pack = load_pack(write_pack(rule_yaml()), analyzer)
    assert pack.id == "p" and [r.id for r in pack.rules] == ["t.rule"]


def test_bad_yaml_gives_its_line(write_pack, analyzer):
    path = write_pack("", raw='pack:\n  id: p\n  name: "unclosed\nrules: []\n')
    [msg] = problems_of(path, analyzer)
    assert msg.startswith(f"{path}:")
    assert "not valid YAML" in msg


@pytest.mark.parametrize(
    "fields,line,needle",
    [
        ({"sevrity": "warning"}, 13, "unknown field 'sevrity'"),
        ({"severity": "fatal"}, 9, "severity 'fatal' must be one of info, warning, critical"),
        ({"severity": "[1, 2]"}, 9, "'severity' must be text"),
        ({"message": None}, 7, "missing field 'message'"),
        ({"regex": "'(unclosed'"}, 13, "does not compile"),
        ({"pii": "passport"}, 13, "unknown pii detector 'passport'"),
        ({"tokens": "'lemmma=馬鹿'"}, 12, "unknown token field 'lemmma'"),
        ({"tokens": "'絶対 ...99 儲かる'"}, 12, "gap '...99'"),
        ({"reading": "'baka'"}, 13, "must be hiragana or katakana"),
        ({"auto_reading": "yes please"}, 13, "'auto_reading' must be true or false"),
        ({"overrules": "ja-abusive"}, 13, "only a 'model' rule overrules other rules"),
    ],
)
def test_each_kind_of_mistake_is_named_at_its_line(write_pack, analyzer, fields, line, needle):
    path = write_pack(rule_yaml(**fields))
    msgs = problems_of(path, analyzer)
    assert any(m.startswith(f"{path}:{line}: ") and needle in m for m in msgs), msgs


def test_duplicate_rule_id_within_a_pack(write_pack, analyzer):
    path = write_pack(rule_yaml("dup.a") + rule_yaml("dup.a"))
    msgs = problems_of(path, analyzer)
    assert msgs == [f"{path}:16: duplicate rule id 'dup.a' (first at line 7)"]


def test_duplicate_yaml_key(write_pack, analyzer):
    path = write_pack(rule_yaml(extra="x").replace("  extra: x\n", "  severity: info\n"))
    msgs = problems_of(path, analyzer)
    assert any("duplicate key 'severity'" in m and m.startswith(f"{path}:13:") for m in msgs), msgs


def test_a_rule_whose_own_example_fails(write_pack, analyzer):
    path = write_pack(rule_yaml(examples_no=("バカンスです", "ばかですね")))
    msgs = problems_of(path, analyzer)
    assert msgs == [f"{path}:15: rule 't.rule': example should not match but does at 'ばか': ばかですね"]


def test_too_few_examples_and_missing_patterns(write_pack, analyzer):
    path = write_pack(rule_yaml(tokens=None, examples_match=("ばか",)))
    msgs = problems_of(path, analyzer)
    assert any("needs at least one pattern" in m for m in msgs)
    assert any("at least two 'match' examples are needed, 1 given" in m for m in msgs)


def test_missing_pack_metadata_and_unknown_top_level(write_pack, analyzer):
    path = write_pack("", raw="pack:\n  id: p\nrule: []\n")
    msgs = problems_of(path, analyzer)
    assert f"{path}:3: unknown top-level field 'rule' (expected pack, defaults, patterns, rules)" in msgs
    assert any("missing field 'name'" in m for m in msgs)
    assert any("'rules' must be a non-empty list" in m for m in msgs)


def pack_with_section(write_pack, name: str, section: str, **fields) -> os.PathLike:
    """A pack of one rule (`rule_yaml(**fields)`) with a top-level section before its rules."""
    raw = PACK_HEAD.format(pack_id=name).replace("rules:\n", section + "rules:\n")
    body = rule_yaml(**fields)
    return write_pack("", name=f"{name}.yaml", raw=raw + "".join("  " + line + "\n" for line in body.splitlines()))


def test_defaults_fill_rule_fields(write_pack, analyzer):
    path = pack_with_section(
        write_pack, "d", "defaults:\n  category: abusive\n  severity: info\n", category=None, severity=None
    )
    [rule] = load_pack(path, analyzer).rules
    assert (rule.category, rule.severity) == ("abusive", "info")


def test_a_named_pattern_is_written_once_and_used_by_the_regexes(write_pack, analyzer):
    path = pack_with_section(
        write_pack,
        "n",
        "patterns:\n  insult: 'ばか|バカ|馬鹿'\n",
        tokens=None,
        regex="['(?:あなた|お前){{insult}}', '{{insult}}(?:ですね|だ)']",
        examples_match=("お前バカ", "ばかですね"),
        examples_no=("バカンスです", "そればかり"),
    )
    [rule] = load_pack(path, analyzer).rules
    assert [p.source for p in rule.regexes] == ["(?:あなた|お前)(?:ばか|バカ|馬鹿)", "(?:ばか|バカ|馬鹿)(?:ですね|だ)"]


@pytest.mark.parametrize(
    "patterns,regex,needle",
    [
        ("  insult: 'バカ'\n", "'{{insullt}}だ'", "unknown pattern '{{insullt}}' (the pack's patterns: insult)"),
        ("  Insult: 'バカ'\n", "'バカだ'", "name 'Insult' must be lower case"),
        ("  insult: '(バカ'\n", "'バカだ'", "'insult' does not compile"),
        ("  insult: '{{other}}'\n", "'バカだ'", "'insult' may not use another pattern"),
        ("  insult: [バカ]\n", "'バカだ'", "'insult' must be a regex (text)"),
    ],
)
def test_named_pattern_mistakes_are_named(write_pack, analyzer, patterns, regex, needle):
    path = pack_with_section(write_pack, "n", "patterns:\n" + patterns, tokens=None, regex=regex)
    msgs = problems_of(path, analyzer)
    assert any(needle in m for m in msgs), msgs


def test_broken_pack_is_refused_and_the_others_keep_working(write_pack, analyzer, tmp_path):
    write_pack(rule_yaml("good.one"), name="good.yaml")
    bad = write_pack(rule_yaml("bad.one", severity="fatal"), name="bad.yaml")
    ruleset, problems = RuleSet.load([tmp_path], analyzer)
    assert [p.id for p in ruleset.packs] == ["good"]
    assert [str(p).split(":")[0] for p in problems] == [str(bad)]
    assert [h.rule_id for h in ruleset.match("ばかだな")] == ["good.one"]


def test_duplicate_ids_across_packs(write_pack, analyzer, tmp_path):
    write_pack(rule_yaml("same.id"), name="a.yaml")
    b = write_pack(rule_yaml("same.id"), name="b.yaml")
    ruleset, problems = RuleSet.load([tmp_path], analyzer)
    assert [p.id for p in ruleset.packs] == ["a"]
    assert any(str(p).startswith(f"{b}:7: rule id 'same.id' is already used in") for p in problems), problems


def test_missing_path(analyzer, tmp_path):
    _, problems = RuleSet.load([tmp_path / "nope.yaml"], analyzer)
    assert [str(p) for p in problems] == [f"{tmp_path / 'nope.yaml'}:1: no such rule pack or folder"]


def test_reload_keeps_the_old_pack_when_the_new_one_is_broken(write_pack, analyzer, tmp_path):
    path = write_pack(rule_yaml("r.v1"), name="live.yaml")
    ruleset, problems = RuleSet.load([path], analyzer)
    assert not problems

    path.write_text(path.read_text(encoding="utf-8").replace("severity: warning", "severity: fatal"), encoding="utf-8")
    os.utime(path, (1, 1))  # a different stamp even within one mtime tick
    reloaded, problems = ruleset.reload()
    assert problems and "severity 'fatal'" in str(problems[0])
    assert [r.id for r in reloaded.rules] == ["r.v1"]
    assert [h.rule_id for h in reloaded.match("ばかだ")] == ["r.v1"]

    path.write_text(path.read_text(encoding="utf-8").replace("severity: fatal", "severity: critical"), encoding="utf-8")
    os.utime(path, (2, 2))
    fixed, problems = reloaded.reload()
    assert not problems
    assert [h.severity for h in fixed.match("ばかだ")] == ["critical"]


def test_unchanged_pack_is_not_compiled_again(write_pack, analyzer):
    path = write_pack(rule_yaml())
    ruleset, _ = RuleSet.load([path], analyzer)
    again, _ = ruleset.reload()
    assert again.packs[0] is ruleset.packs[0]
