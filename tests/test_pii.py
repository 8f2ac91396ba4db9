"""PII detectors on numbers as Whisper writes them spoken, and masking."""

from __future__ import annotations

import pytest

from monitor.pii import PiiFinder, digit_runs, luhn_ok, mynumber_ok

# Fixtures in the style of fuseji's tests (Apache-2.0): a valid and an invalid My Number.
VALID_MYNUMBER = "123456789018"
INVALID_MYNUMBER = "123456789010"
CARD = "4111111111111111"  # Luhn-valid test card


def test_luhn_and_mynumber_check_digits():
    assert luhn_ok(CARD)
    assert not luhn_ok("4111111111111112")
    assert mynumber_ok(VALID_MYNUMBER)
    assert not mynumber_ok(INVALID_MYNUMBER)
    assert not mynumber_ok("12345")


@pytest.mark.parametrize(
    "text",
    [
        "4580",
        "４５８０",
        "4、5、8、0",
        "4 5 8 0",
        "4,5,8,0",
        "四五八〇",
        "よんごーはちぜろ",
        "ヨン ゴー ハチ ゼロ",
    ],
)
def test_spoken_digit_forms(text):
    [run] = digit_runs(__import__("monitor.text", fromlist=["normalize"]).normalize(text)[0])
    assert run.digits == "4580"


def test_kana_digits_need_a_long_run_and_do_not_glue_onto_numbers():
    from monitor.text import normalize

    assert digit_runs(normalize("いちご")[0]) == []  # a strawberry, not 1-5
    assert digit_runs(normalize("しにごく")[0]) == []  # one-syllable particles only
    [run] = digit_runs(normalize("090の1234の5678に変更")[0])
    assert run.digits == "09012345678"  # に after the number is a particle, not a 2


def find(analyzer, kind: str, text: str) -> list[str]:
    from monitor.pii import mask_text

    doc = analyzer.analyze(text)
    return [mask_text(doc, s.start, s.end, list(s.mask)) for s in PiiFinder(doc).find(kind)]


@pytest.mark.parametrize(
    "text",
    [
        "カード番号は4111 1111 1111 1111ですね",
        "4、1、1、1、1、1、1、1、1、1、1、1、1、1、1、1",
        "よんいちいちいち いちいちいちいち いちいちいちいち いちいちいちいち",
        "４１１１－１１１１－１１１１－１１１１",
        "4111。1111。1111。1111ですね",  # the live path: each group read after a pause is its own utterance
        "4111。 1111。 1111。 1111",
    ],
)
def test_card_numbers(analyzer, text):
    assert find(analyzer, "card", text)


def test_card_length_and_luhn(analyzer):
    # Whisper garbled a digit: 16 digits are still a card number.
    assert find(analyzer, "card", "バード番号は4111111111111112です")
    # 13 digits must pass Luhn (a 法人番号 is 13 digits too).
    assert find(analyzer, "card", "番号は4222222222222です")
    assert not find(analyzer, "card", "法人番号は1234567890123です")
    assert not find(analyzer, "card", "注文番号は123456789012です")
    # A long number named as the company's own must pass Luhn too; a card number stays one.
    assert not find(analyzer, "card", "受付番号、2024 0815 0037 0912ですね")
    assert not find(analyzer, "card", "ご予約番号は2024 0815 3301 7720です")
    assert find(analyzer, "card", "受付番号は4111 1111 1111 1111です")
    assert find(analyzer, "card", "カード番号は2024 0815 0037 0912ですね")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("090-1234-5678", True),
        ("090ー1234ー5678", True),
        ("〇九〇の一二三四の五六七八", True),
        ("060 1234 5678", True),  # mobile numbers from 2026
        ("0120-123-456", False),  # toll-free: the company's number, not the customer's
        ("0800-123-4567", False),
        ("03-1234-5678", True),
        ("12345678", False),
        ("100-0001", False),
    ],
)
def test_phone_numbers(analyzer, text, expected):
    assert bool(find(analyzer, "phone", f"お電話番号は{text}ですね")) is expected


def test_my_number_check_digit_or_keyword(analyzer):
    assert find(analyzer, "mynumber", f"番号は{VALID_MYNUMBER}です")
    assert not find(analyzer, "mynumber", f"番号は{INVALID_MYNUMBER}です")
    assert find(analyzer, "mynumber", f"マイナンバーは{INVALID_MYNUMBER}です")
    # Whisper drops or doubles a digit now and then: after the keyword, 11 or 13 digits count too,
    # but not a 10-digit number, and not 11 digits without the keyword.
    assert find(analyzer, "mynumber", "マイナンバーは86584029108で控えました")
    assert find(analyzer, "mynumber", "個人番号、3183683226412ですね")
    assert not find(analyzer, "mynumber", "個人番号の受付は1234567890までです")
    assert not find(analyzer, "mynumber", "受付番号は86584029108です")


@pytest.mark.parametrize(
    "kind,text,masked",
    [
        ("pin", "暗証番号は1、2、3、4ですね", "暗証番号は*、*、*、*"),
        ("pin", "ピン番号はよんごーはちぜろです", "ピン番号は********"),
        ("security_code", "セキュリティコードは123", "セキュリティコードは***"),
        ("security_code", "裏面の3桁は七八九です", "裏面の3桁は***"),
        ("account", "口座番号は1234567です", "口座番号は*******"),
        ("account", "渋谷支店、普通、7304519で承りました", "普通、*******"),
        ("account", "普通口座3172685でお間違いないですね", "普通口座*******"),
        ("account", "返金先は普通講座3172685ですね", "普通講座*******"),  # Whisper's 講座 for 口座
        ("password", "パスワードはabc123です", "パスワードは******"),
        ("otp", "認証コードは491307ですね", "認証コードは******"),
        ("otp", "SMSで届いた番号、6、0、8、2、1、4ですね", "SMSで届いた番号、*、*、*、*、*、*"),
        ("otp", "確認コード、よんごーはちぜろですね", "確認コード、********"),
    ],
)
def test_keyword_detectors_mask_the_digits(analyzer, kind, text, masked):
    [found] = find(analyzer, kind, text)
    if masked is not None:
        assert found == masked
    assert not any(ch.isdigit() for ch in found.replace("3桁", ""))


@pytest.mark.parametrize(
    "kind,text",
    [
        ("pin", "暗証番号はお伺いしておりません"),
        ("pin", "暗証番号を再設定します。受付は平日9時から"),  # 9 is not a 4-digit PIN
        ("security_code", "セキュリティコードの場所をご案内します"),
        ("account", "口座番号を書類にご記入ください"),
        ("account", "普通、3日ほどで届きます"),
        ("account", "普通は3172685円ほどかかります"),
        ("password", "パスワードはお伺いしておりません"),
        ("otp", "認証コードの有効期限は10分です"),
        ("otp", "SMSで届いた番号を画面にご入力ください"),
    ],
)
def test_keyword_without_a_number_does_not_fire(analyzer, kind, text):
    assert find(analyzer, kind, text) == []


def test_pii_hits_are_masked_in_rule_output(shipped):
    hits = [h for h in shipped.match("カード番号は4111-1111-1111-1111ですね") if h.category == "pii"]
    assert hits and all(not any(c.isdigit() for c in h.matched) for h in hits)
