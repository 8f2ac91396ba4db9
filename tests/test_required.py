"""Phrases a call must contain: reported once, when the deadline passes or the call ends."""

from __future__ import annotations

import pytest

from monitor.rules import RequiredPhrases, RuleSet

from .conftest import rule_yaml

NOTICE = rule_yaml(
    "req.notice",
    category="required_phrase",
    tokens="'録音 ...4 する|いたす|させる|おる'",
    required="{within: 30}",
    examples_match=("録音させていただきます", "通話を録音しております"),
    examples_no=("本日はありがとうございます", "担当の佐藤です"),
)
NAME = rule_yaml(
    "req.name",
    category="required_phrase",
    tokens="申す",
    required="{within: end}",
    examples_match=("佐藤と申します", "田中と申します"),
    examples_no=("担当の佐藤です", "申し訳ございません"),
)


@pytest.fixture
def rules(write_pack, analyzer) -> RuleSet:
    ruleset, problems = RuleSet.load([write_pack(NOTICE + NAME)], analyzer)
    assert not problems, problems
    return ruleset


def test_required_rules_never_fire_on_a_line(rules):
    assert rules.match("本日はありがとうございます") == []
    assert [r.id for r in rules.required_rules] == ["req.notice", "req.name"]


def test_said_in_time_raises_nothing(rules):
    calls = RequiredPhrases(rules.required_rules, rules.analyzer)
    assert calls.feed("お電話ありがとうございます、佐藤と申します", 2.0, 5.0) == []
    assert calls.feed("この通話は録音させていただきます", 6.0, 9.0) == []
    assert calls.feed("ご用件をお伺いします", 40.0, 42.0) == []
    assert calls.finish(60.0) == []


def test_deadline_counts_from_the_agents_first_speech(rules):
    calls = RequiredPhrases(rules.required_rules, rules.analyzer)
    assert calls.feed("お電話ありがとうございます", 10.0, 12.0) == []
    assert calls.feed("ご用件をお伺いします", 30.0, 39.0) == []  # 39 < 10 + 30
    [missing] = calls.feed("少々お待ちください", 41.0, 43.0)
    assert missing.rule.id == "req.notice"
    assert missing.deadline == 40.0
    # Said too late: it does not undo the alert, and it is not reported twice.
    assert calls.feed("録音させていただきます", 44.0, 46.0) == []
    [at_end] = calls.finish(70.0)
    assert at_end.rule.id == "req.name"
    assert calls.finish(80.0) == []


def test_silence_before_the_agent_speaks_does_not_count(rules):
    calls = RequiredPhrases(rules.required_rules, rules.analyzer)
    assert calls.feed("", 0.0, 50.0) == []
    assert calls.feed("録音しております、佐藤と申します", 50.0, 53.0) == []
    assert calls.finish(90.0) == []


def test_shipped_required_pack(shipped):
    calls = RequiredPhrases(shipped.required_rules, shipped.analyzer)
    calls.feed("お電話ありがとうございます。株式会社サンプルの佐藤と申します", 0.5, 4.0)
    missing = calls.finish(120.0)
    assert [m.rule.id for m in missing] == ["required.recording-notice"]


def test_a_call_where_the_agent_never_spoke_misses_nothing(rules):
    calls = RequiredPhrases(rules.required_rules, rules.analyzer)
    assert calls.feed("", 0.0, 40.0) == []
    assert calls.finish(60.0) == []
