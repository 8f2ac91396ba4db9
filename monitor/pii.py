"""Personal-information detectors over digits as Whisper writes them spoken.

Whisper writes a number read aloud as `4580`, `4、5、8、0`, `4 5 8 0`, `四五八〇`, `〇九〇`,
`よんごーはちぜろ` or `090の1234の5678`; no library reads all of these, so `digit_runs` turns
them into plain digit strings with the places each digit came from (for masking).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .text import Doc, fold_reading, mask_spans, to_katakana

__all__ = ["DETECTORS", "DigitRun", "PiiFinder", "PiiSpan", "digit_runs", "luhn_ok", "mask_text", "mynumber_ok"]

_KANA_DIGITS = {
    "ゼロ": "0", "ぜろ": "0", "れい": "0", "レイ": "0", "まる": "0", "マル": "0",
    "いち": "1", "イチ": "1",
    "にい": "2", "にー": "2", "ニー": "2", "に": "2", "ニ": "2",
    "さん": "3", "サン": "3",
    "よん": "4", "ヨン": "4", "し": "4", "シ": "4",
    "ごう": "5", "ごー": "5", "ゴー": "5", "ゴウ": "5", "ご": "5", "ゴ": "5",
    "ろく": "6", "ロク": "6",
    "なな": "7", "ナナ": "7", "しち": "7", "シチ": "7",
    "はち": "8", "ハチ": "8",
    "きゅう": "9", "きゅー": "9", "キュウ": "9", "キュー": "9", "く": "9", "ク": "9",
}  # fmt: skip
_KANJI_DIGITS = dict(zip("〇零一二三四五六七八九", "00123456789", strict=True))
# Between the groups of a number: a pause as Whisper writes it. The live path commits each group
# read after a pause as an utterance of its own, and Whisper ends those with 。 (「4980。2163。」).
_SEP = r"(?:[\s、,，・.。\-/]{1,2}|の)?"
_NUM_UNIT = "[0-9]+|[〇零一二三四五六七八九]"
_KANA_UNIT = "|".join(sorted((re.escape(k) for k in _KANA_DIGITS), key=len, reverse=True))
# A number read aloud: digit units with at most one separator between them. Digits and kana
# readings never mix in one number, or 「5678に変更」 would read as 56782.
# One kana digit between two written ones is a digit too: Whisper writes 「191に4680」 for 1912 4680.
_RUNS = [
    re.compile(rf"(?:{_NUM_UNIT})(?:{_SEP}(?:{_NUM_UNIT}|(?:{_KANA_UNIT})(?={_SEP}(?:{_NUM_UNIT}))))*"),
    re.compile(rf"(?:{_KANA_UNIT})(?:{_SEP}(?:{_KANA_UNIT}))*"),
]
# The company's own reference numbers, named just before the digits.
_REFERENCE = re.compile(
    r"(?:受付|予約|注文|問い合わせ|問合せ|お問合せ|管理|伝票|追跡|整理|会員|お客様|求人|契約|申込|申し込み|登録|証券)番号[はがも]?[、,\s:：]*(?:[はがも][、,\s]*)?$"
)
_UNIT_RE = re.compile(f"{_NUM_UNIT}|{_KANA_UNIT}")


@dataclass(frozen=True, slots=True)
class DigitRun:
    """A number in the normalised text: its digits and where each of its units stands."""

    digits: str
    start: int
    end: int
    units: tuple[tuple[int, int], ...]


def digit_runs(norm: str) -> list[DigitRun]:
    """Every spoken or written number in normalised text."""
    runs: list[DigitRun] = []
    for pattern in _RUNS:
        for m in pattern.finditer(norm):
            units = [(m.start() + u.start(), m.start() + u.end()) for u in _UNIT_RE.finditer(m.group())]
            texts = [norm[a:b] for a, b in units]
            if texts[0] in _KANA_DIGITS:  # (a number spoken in kana from its first digit)
                # Kana digits are ordinary syllables too (に, し, ご, く): only a run of four or
                # more, not all of them one-syllable particles, is taken as a number.
                if len(units) < 4 or all(len(t) == 1 for t in texts):
                    continue
                digits = "".join(_KANA_DIGITS[t] for t in texts)
            else:
                digits = "".join(_KANJI_DIGITS.get(t) or _KANA_DIGITS.get(t) or t for t in texts)
            runs.append(DigitRun(digits, m.start(), m.end(), tuple(units)))
    runs.sort(key=lambda r: r.start)
    return runs


def luhn_ok(digits: str) -> bool:
    """The Luhn check that every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mynumber_ok(digits: str) -> bool:
    """The check digit of a 12-digit 個人番号 (番号法施行令 8条)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(c) for c in digits[:11]][::-1]
    s = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, start=1))
    r = s % 11
    check = 0 if r <= 1 else 11 - r
    return check == int(digits[11])


# Toll-free and shared-cost numbers (0120, 0800, 0570, 0180) belong to businesses: an agent
# giving the company's own フリーダイヤル is not reading out personal data.
_BUSINESS_PREFIXES = ("0120", "0800", "0570", "0180")


def _phone_ok(digits: str) -> bool:
    if not (digits.startswith("0") and 10 <= len(digits) <= 11) or digits.startswith(_BUSINESS_PREFIXES):
        return False
    try:
        import phonenumbers
    except ImportError:  # pragma: no cover - declared dependency
        return re.fullmatch(r"0[6-9]0\d{8}|0120\d{6}|0800\d{7}|0[1-9]\d{8}", digits) is not None
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits, "JP"))
    except phonenumbers.NumberParseException:
        return False


_KEYWORD_SOURCES = {
    "card": re.compile(r"カード|クレジット|card", re.I),
    "mynumber": re.compile(r"マイナンバー|個人番号"),
    "pin": re.compile(r"暗証番号|PIN|ピン番号|ピンコード|パスコード|暗証", re.I),
    "security_code": re.compile(
        r"セキュリティー?コード|CVV|CVC|裏面の(?:3|三|さん)桁|裏面の番号|裏面に記載の番号", re.I
    ),
    # (普通、7304519: the account type, then its number, as a bank transfer is read back)
    # Whisper writes 口座 as 講座 now and then (普通講座3172685).
    "account": re.compile(r"口座番号|口座の番号|(?:普通|当座)(?:預金)?(?:(?:口座|講座)(?:の|[、,\s])?|の|[、,\s])"),
    "password": re.compile(r"パスワード|password", re.I),
    # A code sent by SMS or shown by an app to prove it is the customer: read back, it lets whoever
    # hears it into the account (the phishing calls' whole aim).
    "otp": re.compile(
        r"認証コード|認証番号|確認コード|ワンタイム(?:パスワード|コード)?|"
        r"(?:SMS|ショートメッセージ|ショートメール)(?:で|に)?(?:届いた|届きました|送られた)(?:番号|コード|数字)?",
        re.I,
    ),
}
_KEYWORDS = {k: re.compile(to_katakana(p.pattern), p.flags) for k, p in _KEYWORD_SOURCES.items()}
# The same keywords by reading, for the homophones Whisper writes (講座番号, 安床番号).
_KEYWORD_READINGS = {
    "card": ["カード"],
    "mynumber": ["コジンバンゴー", "マイナンバー"],
    "pin": ["アンショーバンゴー", "アンショー"],
    "security_code": ["セキュリティコード", "セキュリティーコード"],
    "account": ["コーザバンゴー"],
    "password": ["パスワード", "バスワード"],
    "otp": ["ニンショーコード", "ニンショーバンゴー", "ワンタイム"],
}
# How far after its keyword a number may stand (normalised characters).
_NEAR = 16
# A password as read out: letters and digits, possibly after a word Whisper wrote in kana (さくら2024).
_PASSWORD_VALUE = re.compile(
    r"(?:は|が|を|の)?[\s:：、,]*((?:[ぁ-んァ-ヶー]{1,8})?[A-Za-z0-9][A-Za-z0-9!#$%&*+\-_.@]{2,})"
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """A detected piece of personal information: a span of normalised text and what to mask."""

    start: int
    end: int
    mask: tuple[tuple[int, int], ...]


class PiiFinder:
    """Runs the detectors over one doc, computing the digit runs once."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc

    @cached_property
    def runs(self) -> list[DigitRun]:
        return digit_runs(self.doc.norm)

    @cached_property
    def katakana(self) -> str:
        # Keywords are looked for in katakana, so かーど and カード are one word.
        return to_katakana(self.doc.norm)

    def keywords(self, kind: str) -> list[tuple[int, int]]:
        """Where a keyword of this kind stands, by spelling or by reading."""
        spans = {(k.start(), k.end()) for k in _KEYWORDS[kind].finditer(self.katakana)}
        for reading in _KEYWORD_READINGS[kind]:
            spans.update(self.doc.find_reading(fold_reading(reading)))
        return sorted(spans)

    def _after_keyword(self, kind: str, lo: int, hi: int) -> list[PiiSpan]:
        found: dict[int, PiiSpan] = {}
        for k_start, k_end in self.keywords(kind):
            for run in self.runs:
                if run.start >= k_end and run.start - k_end <= _NEAR and lo <= len(run.digits) <= hi:
                    # One number is one finding, however many keywords stand before it.
                    found.setdefault(run.start, PiiSpan(k_start, run.end, run.units))
                    break
        return list(found.values())

    def find(self, kind: str) -> list[PiiSpan]:
        return getattr(self, "_" + kind)()

    def _card(self) -> list[PiiSpan]:
        # 14–19 digits read out are a card number whether or not Luhn agrees (Whisper drops or
        # garbles a digit now and then, and few other everyday numbers are that long); 13 digits
        # must pass Luhn (a 法人番号 has 13 too). A long number the agent names as the company's
        # own (受付番号, ご予約番号 ...) must pass Luhn too.
        norm = self.doc.norm
        return [
            PiiSpan(r.start, r.end, r.units)
            for r in self.runs
            if (
                14 <= len(r.digits) <= 19
                and (luhn_ok(r.digits) or not _REFERENCE.search(norm, max(0, r.start - 12), r.start))
            )
            or (len(r.digits) == 13 and luhn_ok(r.digits))
        ]

    def _mynumber(self) -> list[PiiSpan]:
        found = [PiiSpan(r.start, r.end, r.units) for r in self.runs if mynumber_ok(r.digits)]
        # After its keyword, a number Whisper wrote a digit short or long of 12 is still one.
        return found + self._after_keyword("mynumber", 11, 13)

    def _phone(self) -> list[PiiSpan]:
        return [PiiSpan(r.start, r.end, r.units) for r in self.runs if _phone_ok(r.digits)]

    def _pin(self) -> list[PiiSpan]:
        return self._after_keyword("pin", 4, 6)

    def _security_code(self) -> list[PiiSpan]:
        return self._after_keyword("security_code", 3, 4)

    def _account(self) -> list[PiiSpan]:
        return self._after_keyword("account", 6, 8)

    def _otp(self) -> list[PiiSpan]:
        return self._after_keyword("otp", 4, 8)

    def _password(self) -> list[PiiSpan]:
        # The whole word read after the keyword (abc123, さくら2024) is masked; failing that,
        # digits spoken one by one (1、2、3、4).
        found: list[PiiSpan] = []
        norm = self.doc.norm
        for k_start, k_end in self.keywords("password"):
            m = _PASSWORD_VALUE.match(norm, k_end)
            if m:
                found.append(PiiSpan(k_start, m.end(1), ((m.start(1), m.end(1)),)))
        return found or self._after_keyword("password", 4, 32)


DETECTORS = ("card", "mynumber", "phone", "pin", "security_code", "account", "password", "otp")


def mask_text(doc: Doc, start: int, end: int, masks: list[tuple[int, int]]) -> str:
    """The original text of normalised [start, end) with the masked spans replaced by `*`."""
    o_start, o_end = doc.span(start, end)
    spans = [(a - o_start, b - o_start) for a, b in (doc.span(s, e) for s, e in masks)]
    return mask_spans(doc.text[o_start:o_end], spans)
