"""Each pattern kind, against the spellings and splits Whisper produces."""

from __future__ import annotations

import pytest

from monitor.rules import RuleSet

from .conftest import rule_yaml


def ruleset_of(write_pack, analyzer, *rules: str) -> RuleSet:
    path = write_pack("".join(rules))
    ruleset, problems = RuleSet.load([path], analyzer)
    assert problems == [], "\n".join(map(str, problems))
    return ruleset


def ids(ruleset: RuleSet, text: str) -> list[str]:
    return [h.rule_id for h in ruleset.match(text)]


@pytest.fixture
def profit(write_pack, analyzer) -> RuleSet:
    return ruleset_of(
        write_pack,
        analyzer,
        rule_yaml(
            "m.profit",
            category="misleading",
            tokens="'絶対|必ず ...4 儲かる|値上がり'",
            examples_match=("絶対に儲かります", "必ず値上がりします"),
            examples_no=("儲かります", "絶対に参ります"),
        ),
    )


@pytest.mark.parametrize(
    "text",
    [
        "この商品は絶対に儲かりますよ",
        "ぜったいにもうかります",  # all hiragana
        "絶対　儲かった",  # full-width space, past tense
        "絶対 もうかる",  # stray space
        "必ず、確実に値上がりします",  # punctuation and a word between
        "ｾﾞｯﾀｲに儲かる",  # half-width katakana
    ],
)
def test_token_sequence_matches_spellings_and_conjugations(profit, text):
    assert ids(profit, text) == ["m.profit"]


def test_token_gap_is_bounded(profit):
    assert ids(profit, "絶対にお客様の資産は今年中に必ず儲かる") == ["m.profit"]  # 必ず is close
    assert ids(profit, "絶対にお客様の大切な資産の運用について儲かる") == []  # 絶対 is 8 words away


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("「絶対に儲かる」なんて話をする業者にはお気をつけください", False),  # talked about
        ("『必ず値上がりする』という勧誘は禁止されています", False),
        ("「絶対に儲かる」商品をご案内します", True),  # quoted, but no one is talking about it
        ("この株は「絶対に儲かります」よ", True),  # quoted, but said
        ("「絶対に儲かる」なんて話、本当なんですよ、絶対儲かります", True),  # and said again outside
        # speech has no brackets: the customer's words, reported in the honorific
        ("絶対儲かるとおっしゃったのは、前の担当の者でしょうか", False),
        ("先ほど、必ず儲かる、っておっしゃいましたけど、そのようなお約束はできません", False),
        ("絶対儲かりますよ、さっきおっしゃったご予算でも", True),  # おっしゃる, but not of these words
        ("絶対儲かりますよ、ご主人もそうおっしゃってました", True),
        ("「絶対に儲かる」と思われるのも無理はございません", False),
        # a wish of the customer's that the agent takes up
        ("絶対儲かる商品がいいということでしたら、当社にはございません", False),
        ("絶対儲かりますので、そういうことでしたらぜひ", True),  # the wish is not these words
        # a claim named in order to deny it
        ("絶対に儲かるとはお約束できませんので、ご判断はお客様で", False),
        ("必ず儲かるとかは僕からは言えないっす", False),
        ("ほんま言うて、絶対儲かるなんてことはあらへんのですわ", False),
        ("必ず値上がりするというものではございません", False),
        ("必ず値上がりするというお約束はできかねます", False),
        ("絶対儲かるということは、よくご理解ください", True),  # named, not denied
        ("絶対に儲かりますので、損することはありません", True),  # the denial is of a loss
        ("絶対儲かるって、ないですよね、こんな話", True),  # the denial is past the clause
        ("絶対儲かる、ってことはないですよ", False),  # a pause before the quotative
        ("必ず値上がりする、というものではございません", False),
        ("絶対に儲かるということは、専門家でもお約束できません", False),  # a pause after the topic
        ("絶対に儲かるということは、私が保証します", True),
        # a claim others make, which the agent warns about
        ("絶対儲かるなんて話は、まず疑ってください", False),
        ("絶対に儲かるなんて話をしてくる業者にはご注意ください", False),
        ("必ず値上がりするなどと言って勧誘する業者にご注意ください", False),
        ("絶対儲かりますよ、こんな話はめったにないです", True),  # said, then talked about
        # several claims listed and denied together
        ("絶対儲かるとか、元本割れしないとか、そういったお話は一切ございません", False),
        ("必ず値上がりするですとか、そういうものはございません", False),
        ("絶対儲かるとか、そういうのもついてますから安心です", True),  # listed, not denied
        # what someone said, reported back in an apology
        ("絶対儲かる、とのお言葉、ごもっともです", False),
        ("必ず儲かるというご指摘、重く受け止めております", False),
        ("絶対儲かると担当が申したとのこと、大変失礼いたしました", False),
        ("絶対に儲かる、と前の担当に言われたとのことですね", False),
        ("絶対儲かると申し上げたつもりはございません", False),
        ("絶対儲かる、というご説明はできかねます", False),
        ("絶対儲かると申し上げました", True),  # said, not reported
        ("絶対儲かりますよ、とのことでしたので、ぜひ", True),  # とのこと alone is not a report of being told
        # what someone said to the customer, taken up by the agent
        ("絶対儲かるって言われたんですね、それは心配ですよね", False),
        ("絶対儲かる、と言われたんですか", False),
        ("絶対儲かる、とのことですが、決してそのようなお約束はしておりません", False),
        ("先ほど絶対儲かると言う言葉がありましたので", False),
        ("絶対儲かると言われました", True),  # the agent's own report, not the customer's
        # what the customer said or how they took it (Whisper writes おっしゃる as おしゃる, オーシャル)
        ("絶対儲かるとおしゃるのもごもっともです", False),
        ("絶対儲かるとオーシャルほどご心配をおかけして", False),
        ("絶対儲かるのかとお感じになったのは、私の説明不足でございます", False),
        ("絶対儲かるのかと、感じになったのは、私の説明不足です", False),
        ("絶対儲かるとお思いになって結構です", True),  # the agent's own claim: not past
        # a claim it would be a lie to make
        ("絶対儲かるなんて言うたら嘘になりますんで、よう言いませんわ", False),
        ("絶対儲かるって言ったらウソになりますね", False),
        ("絶対儲かるって言ったら、お客様も喜ばれます", True),  # no lie: said
    ],
)
def test_a_quoted_phrase_that_is_talked_about_is_a_mention(profit, text, hit):
    assert ids(profit, text) == (["m.profit"] if hit else [])


def test_a_card_number_in_quotes_is_still_read_aloud(write_pack, analyzer):
    ruleset = ruleset_of(
        write_pack,
        analyzer,
        rule_yaml(
            "p.card",
            category="pii",
            tokens=None,
            pii="card",
            examples_match=("4980 1234 5678 9016", "カードは4980123456789016"),
            examples_no=("注文番号は12345678です", "カードの下4桁"),
        ),
    )
    assert ids(ruleset, "「4980 1234 5678 9016」という番号でよろしいですか") == ["p.card"]


def test_hit_offsets_point_into_the_original_text(profit):
    text = "お客様、ｾﾞｯﾀｲに儲かります"
    [hit] = profit.match(text)
    assert text[hit.start : hit.end] == "ｾﾞｯﾀｲに儲かり"
    assert hit.matched == "ｾﾞｯﾀｲに儲かり"


@pytest.mark.parametrize("text", ["ばかですね", "バカですね", "馬鹿ですね", "ﾊﾞｶですね", "お前 ばか か"])
def test_lemma_unifies_kana_and_kanji(write_pack, analyzer, text):
    rs = ruleset_of(write_pack, analyzer, rule_yaml())
    assert ids(rs, text) == ["t.rule"]


@pytest.mark.parametrize("text", ["バカンスの予定", "そればかりです", "ばかり言って", "バカラのグラス"])
def test_short_word_inside_a_longer_word_does_not_fire(write_pack, analyzer, text):
    rs = ruleset_of(write_pack, analyzer, rule_yaml())
    assert ids(rs, text) == []


def test_optional_element_and_any_token(write_pack, analyzer):
    rs = ruleset_of(
        write_pack,
        analyzer,
        rule_yaml(
            "t.opt",
            tokens="'元本 を? 保証 する'",
            examples_match=("元本を保証します", "元本保証します"),
            examples_no=("元本です", "保証します"),
        ),
        rule_yaml(
            "t.any",
            tokens="'今日 * 決める'",
            examples_match=("今日中決めてください", "今日は決めましょう"),
            examples_no=("今日決めます", "今日中には決めます"),
        ),
    )
    assert ids(rs, "元本を保証します") == ["t.opt"]
    assert ids(rs, "元本保証しております") == ["t.opt"]
    assert ids(rs, "元本保証いたします") == []  # いたす is another word than する
    assert ids(rs, "今日中決めて") == ["t.any"]
    assert ids(rs, "今日決めて") == []


def test_field_conditions_and_conjugation_form(write_pack, analyzer):
    rs = ruleset_of(
        write_pack,
        analyzer,
        rule_yaml(
            "t.shut",
            tokens="'黙る&cform=命令形'",
            examples_match=("黙れ", "だまれよ"),
            examples_no=("黙っていました", "黙ります"),
        ),
        rule_yaml(
            "t.pos",
            tokens="'pos=名詞&lemma=馬鹿 pos2=格助詞|pos=助動詞'",
            examples_match=("馬鹿だ", "ばかです"),
            examples_no=("馬鹿", "利口だ"),
        ),
    )
    assert ids(rs, "だまれ") == ["t.shut"]
    assert ids(rs, "黙ってください") == []
    assert ids(rs, "ばかだ") == ["t.pos"]


def test_auto_reading_catches_homophones_whisper_writes(write_pack, analyzer):
    def kisha(auto: str) -> RuleSet:
        return ruleset_of(
            write_pack,
            analyzer,
            rule_yaml(
                "t.kisha",
                category="misleading",
                tokens="貴社",
                auto_reading=auto,
                examples_match=("貴社の商品", "貴社に伺います"),
                examples_no=("弊社の商品", "会社の商品"),
            ),
        )

    # Whisper writes 記者 for 貴社: same reading, other kanji.
    assert ids(kisha("true"), "記者の商品はすばらしい") == ["t.kisha"]
    assert ids(kisha("false"), "記者の商品はすばらしい") == []
    monku = ruleset_of(
        write_pack,
        analyzer,
        rule_yaml(
            "t.monku",
            tokens="文句",
            examples_match=("文句を言う", "もんくを言う"),
            examples_no=("文化を言う", "問題を言う"),
        ),
    )
    assert ids(monku, "もんくばかり言わないで") == ["t.monku"]
    assert ids(monku, "モンクを言う") == ["t.monku"]


def test_reading_pattern_crosses_token_boundaries_and_respects_them(write_pack, analyzer):
    rs = ruleset_of(
        write_pack,
        analyzer,
        rule_yaml(
            "t.katawa",
            category="discrimination",
            tokens=None,
            reading="かたわ",
            examples_match=("かたわの人", "カタワ"),
            examples_no=("かたわら", "傍らに"),
        ),
    )
    assert ids(rs, "あの人はかたわです") == ["t.katawa"]  # かた|わ: two tokens
    assert ids(rs, "仕事のかたわら勉強する") == []  # かたわら is one word
    assert ids(rs, "この方は") == []  # 方|は is pronounced カタワ, but は is not わ
