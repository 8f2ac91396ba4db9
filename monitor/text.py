"""Text preparation: normalisation with an offset map, tokens, and folded readings.

Every later stage works on a `Doc`, which keeps the text as it was given next to the normalised
text, so a hit found on normalised text always reports offsets into the original.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Analyzer",
    "Doc",
    "Token",
    "fold_reading",
    "fold_readings",
    "mask_spans",
    "normalize",
    "to_katakana",
]

# Half-width voicing marks and combining marks join the character before them under NFKC
# (ﾊﾞ -> バ), so they are normalised together with it.
_JOINERS = {"\uff9e", "\uff9f", "\u3099", "\u309a"}
_DASHES = set("ー－‐‑‒–—―−ｰ-")
_PUNCT_POS = {"補助記号", "空白"}


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def normalize(text: str) -> tuple[str, list[int], list[int]]:
    """NFKC, drop the spaces Whisper scatters between Japanese words, fold dashes between digits.

    Returns:
        The normalised text and, for each of its characters, where the original character(s) it
        came from start and end.
    """
    chunks: list[tuple[str, int]] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and text[j] in _JOINERS:
            j += 1
        chunks.append((unicodedata.normalize("NFKC", text[i:j]), i))
        i = j
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for k, (chunk, start) in enumerate(chunks):
        if chunk.isspace() or not chunk:
            prev = out[-1] if out else ""
            nxt = next((c for c, _ in chunks[k + 1 :] if c and not c.isspace()), "")
            if not (_is_ascii_word(prev[-1:]) and _is_ascii_word(nxt[:1])):
                continue
            chunk = " "
        end = chunks[k + 1][1] if k + 1 < len(chunks) else n
        for ch in chunk:
            out.append(ch)
            starts.append(start)
            ends.append(end)
    # Dashes between digits are hyphens (090ー1234); elsewhere ー is a long vowel (メール).
    for k in range(1, len(out) - 1):
        if out[k] in _DASHES and out[k - 1].isdigit() and out[k + 1].isdigit():
            out[k] = "-"
    return "".join(out), starts, ends


_SMALL = str.maketrans("ァィゥェォヵヶヮヲヂヅ", "アイウエオカケワオジズ")
_VOWEL_ROWS = {
    "a": "アカガサザタダナハバパマヤャラワ",
    "i": "イキギシジチヂニヒビピミリ",
    "u": "ウクグスズツヅヌフブプムユュルヴ",
    "e": "エケゲセゼテデネヘベペメレ",
    "o": "オコゴソゾトドノホボポモヨョロヲ",
}
_VOWEL_OF = {ch: v for v, chars in _VOWEL_ROWS.items() for ch in chars}
# Which vowel letter lengthens which row: おう/おお -> オー, えい/ええ -> エー, うう -> ウー ...
_LENGTHENS = {"a": "ア", "i": "イ", "u": "ウ", "e": "エイ", "o": "ウオ"}


def mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """text with the non-space characters of the given [start, end) spans replaced by `*`."""
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(end, len(chars))):
            if not chars[i].isspace():
                chars[i] = "*"
    return "".join(chars)


def to_katakana(text: str) -> str:
    """Hiragana to katakana; everything else unchanged."""
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def to_hiragana(text: str) -> str:
    """Katakana to hiragana; everything else unchanged."""
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


_SAME_VOWEL = {"a": "ア", "i": "イ", "u": "ウ", "e": "エ", "o": "オ"}


@dataclass(frozen=True, slots=True)
class FoldedReadings:
    """Readings folded as one string, and how to read it from the start of each part."""

    text: str
    starts: tuple[int, ...]  # where each part starts in `text` (plus the end)
    # For a part whose first vowel was folded into the part before (カイ|イッ -> カイーッ):
    # the part's own first character and how many characters of `text` it stands for.
    heads: tuple[tuple[str, int] | None, ...]

    def at(self, i: int, n: int) -> str:
        """The first n characters of the reading from part i, as if the text began there."""
        head = self.heads[i]
        r = self.starts[i]
        if head is None:
            return self.text[r : r + n]
        return (head[0] + self.text[r + head[1] : r + head[1] + n])[:n]


def fold_readings(parts: list[str], fresh: frozenset[int] = frozenset()) -> FoldedReadings:
    """Fold katakana readings as one string, so that the spellings Whisper picks for one sound
    compare equal however the tokenizer split them (もう|かる, も|う|かる, ナンカイ|イッタ).

    Args:
        parts: the readings, in order.
        fresh: indexes of parts whose first vowel never lengthens the part before (the prefix
            お: 分も|お申し込み is not ブンモー).
    """
    out: list[str] = []
    starts: list[int] = []
    heads: list[tuple[str, int] | None] = []
    prev_vowel = ""
    for i, part in enumerate(parts):
        starts.append(len(out))
        heads.append(None)
        if i in fresh:
            prev_vowel = ""
        for k, ch in enumerate(to_katakana(part)):
            before = len(out)
            big = ch.translate(_SMALL)
            if ch in "ァィゥェォ" and out and not (prev_vowel and big == _SAME_VOWEL[prev_vowel]):
                # A small vowel after another row is a sound of its own (ティ, ファ).
                out.append(ch)
                prev_vowel = _VOWEL_OF.get(big, "")
                continue
            if ch in "ァィゥェォ" or big == "ー" or (prev_vowel and big in _LENGTHENS[prev_vowel]):
                if out and out[-1] != "ー":
                    out.append("ー")
                if k == 0 and i > 0 and big != "ー":
                    heads[-1] = (big, len(out) - before)
                continue
            out.append(big)
            prev_vowel = _VOWEL_OF.get(big, "")
    starts.append(len(out))
    return FoldedReadings("".join(out), tuple(starts), tuple(heads))


@lru_cache(maxsize=65536)
def fold_reading(reading: str) -> str:
    """`fold_readings` of a single reading, as a string."""
    return fold_readings([reading]).text


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the normalised text."""

    surface: str
    lemma: str
    orth: str
    reading: str  # katakana reading as spelled (は is ハ); the surface for unknown words
    pos: str
    pos2: str
    cform: str
    start: int  # offsets into the normalised text
    end: int

    @property
    def is_punct(self) -> bool:
        return self.pos in _PUNCT_POS


@dataclass(frozen=True, slots=True)
class Doc:
    """A line of text, prepared once for every rule."""

    text: str  # as given
    norm: str
    starts: tuple[int, ...]  # normalised index -> where its original character(s) start
    ends: tuple[int, ...]  # ... and end
    tokens: tuple[Token, ...]
    words: tuple[Token, ...]  # tokens without punctuation: what token patterns walk
    folded: FoldedReadings  # the readings of `words`, folded as one string
    prefix3: tuple[str, ...]  # the first three kana of the folded reading from each word
    # Where each key stands: a word's lemma, surface and orthBase, and "^" + its prefix3.
    index: dict[str, tuple[int, ...]]
    boundaries: frozenset[int]  # normalised offsets where a token starts or ends

    @property
    def reading(self) -> str:
        return self.folded.text

    @property
    def reading_starts(self) -> tuple[int, ...]:
        return self.folded.starts

    def reading_ends(self, folded: str, i: int) -> list[int]:
        """Word indexes j such that words[i:j] read `folded` (folded readings compared)."""
        f = self.folded
        starts = f.starts
        r = starts[i]
        head = f.heads[i]
        if head is None:
            if not f.text.startswith(folded, r):
                return []
            r_end = r + len(folded)
        else:
            if not folded.startswith(head[0]) or not f.text.startswith(folded[1:], r + head[1]):
                return []
            r_end = r + head[1] + len(folded) - 1
        for j in range(i + 1, len(starts)):
            if starts[j] == r_end:
                return [j]
            if starts[j] > r_end:
                break
        return []

    def find_reading(self, folded: str, word: int | None = None) -> list[tuple[int, int]]:
        """Normalised spans whose folded reading is `folded`, starting and ending on word
        boundaries; only at word index `word` when given."""
        if word is not None:
            starts: Sequence[int] = (word,)
        elif len(folded) >= 3:
            starts = self.index.get("^" + folded[:3], ())
        else:
            starts = range(len(self.words))
        return [(self.words[i].start, self.words[j - 1].end) for i in starts for j in self.reading_ends(folded, i)]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised [start, end) to the original text."""
        if end <= start:
            at = self.starts[start] if start < len(self.starts) else len(self.text)
            return at, at
        return self.starts[start], self.ends[end - 1]


_KANJI_DIGIT = "〇一二三四五六七八九"
_DIGIT_READINGS = ("ゼロ", "イチ", "ニ", "サン", "ヨン", "ゴ", "ロク", "ナナ", "ハチ", "キュウ")


def kanji_number(n: int) -> str:
    """An integer as it is written in kanji: 1 -> 一, 20 -> 二十, 100 -> 百, 2024 -> 二千二十四."""
    if n == 0:
        return "〇"
    out = []
    for unit_value, unit in ((10**8, "億"), (10**4, "万")):
        if n >= unit_value:
            out.append(kanji_number(n // unit_value) + unit)
            n %= unit_value
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        d, n = divmod(n, unit_value)
        if d:
            out.append(("" if d == 1 else _KANJI_DIGIT[d]) + unit)
    if n:
        out.append(_KANJI_DIGIT[n])
    return "".join(out)


def fold_words(words: Sequence[Token]) -> FoldedReadings:
    """The folded reading of consecutive words.

    A word's first vowel lengthens the word before only where one word runs into the next:
    not after a particle (を|押し is not オーシ, は|あり is not ハーリ) and not for the prefix お
    (分も|お申し込み is not ブンモー); a lone う always does (も|う|かる).
    """
    fresh = frozenset(
        i
        for i, t in enumerate(words)
        if t.pos == "接頭辞" or (i > 0 and words[i - 1].pos == "助詞" and t.reading not in ("ウ", "ー"))
    )
    return fold_readings(
        [t.surface.upper() if t.surface.isascii() and not t.surface.isdigit() else t.reading for t in words], fresh
    )


class Analyzer:
    """Turns text into a `Doc` with fugashi + unidic-lite. Thread-safe; one tagger per thread."""

    def __init__(self) -> None:
        try:
            import fugashi  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise RuntimeError("text analysis requires fugashi and unidic-lite: pip install fugashi unidic-lite") from e
        self._local = threading.local()

    def _tagger(self):
        tagger = getattr(self._local, "tagger", None)
        if tagger is None:
            import fugashi

            tagger = self._local.tagger = fugashi.Tagger()
        return tagger

    def tokens(self, norm: str) -> list[Token]:
        """Tokenise already-normalised text."""
        result: list[Token] = []
        pos = 0
        for w in self._tagger()(norm):
            surface = w.surface
            start = norm.find(surface, pos)
            if start < 0:  # MeCab never rewrites text, but stay safe
                start = pos
            end = start + len(surface)
            pos = end
            f = w.feature
            parts = w.pos.split(",")
            lemma = getattr(f, "lemma", None) or surface
            digits = surface.isascii() and surface.isdigit()
            if digits and len(surface) <= 12:
                # Whisper writes numbers as digits or kanji at random: 業界1 is 業界一.
                lemma = kanji_number(int(surface))
            if "-" in lemma and not lemma.startswith("-"):
                # Loanwords carry their source word: カード-card -> カード.
                lemma = lemma.split("-", 1)[0]
            orth = getattr(f, "orthBase", None) or surface
            # The spelled reading (kana), not the pronunciation: pron reads the particle は as ワ,
            # and この方は would then read as かたわ. Folding evens out the long vowels.
            reading = getattr(f, "kana", None) or getattr(f, "pron", None) or to_katakana(surface)
            if reading == "*":
                reading = to_katakana(surface)
            if digits:
                # Read digit by digit, as Whisper hears them: 6音 is ロクオン (録音).
                reading = "".join(_DIGIT_READINGS[int(d)] for d in surface)
            cform = getattr(f, "cForm", None) or "*"
            result.append(
                Token(
                    surface=surface,
                    lemma=lemma,
                    orth=orth,
                    reading=reading,
                    pos=parts[0],
                    pos2=parts[1] if len(parts) > 1 else "*",
                    cform=cform,
                    start=start,
                    end=end,
                )
            )
        return result

    def word(self, word: str) -> list[Token]:
        """The tokens of a word written alone (normalised; punctuation left out), cached: rule
        packs name the same words again and again."""
        cache = self.__dict__.setdefault("_words", {})
        toks = cache.get(word)
        if toks is None:
            toks = cache[word] = [t for t in self.tokens(normalize(word)[0]) if not t.is_punct]
        return list(toks)

    def fold(self, kana: str) -> str:
        """The folded reading of a kana phrase, split into words as text would be."""
        words = [t for t in self.tokens(normalize(kana)[0]) if not t.is_punct]
        return fold_words(words).text

    def analyze(self, text: str) -> Doc:
        norm, starts, ends = normalize(text)
        tokens = self.tokens(norm)
        words = tuple(t for t in tokens if not t.is_punct)
        folded = fold_words(words)
        prefix3 = tuple(folded.at(i, 3) for i in range(len(words)))
        index: dict[str, list[int]] = {}
        for i, t in enumerate(words):
            for k in {t.lemma, t.surface, t.orth, "^" + prefix3[i]}:
                index.setdefault(k, []).append(i)
        return Doc(
            text=text,
            norm=norm,
            starts=tuple(starts),
            ends=tuple(ends),
            tokens=tuple(tokens),
            words=words,
            folded=folded,
            prefix3=prefix3,
            index={k: tuple(v) for k, v in index.items()},
            boundaries=frozenset(b for t in tokens for b in (t.start, t.end)),
        )


# A quoted phrase that is talked about, not said: 「絶対に儲かる」なんて話には / 「ぶっ殺す」というセリフ.
_MENTION = re.compile(
    r"[「『][^「」『』]{1,60}[」』]\s*(?=という|といった|なんて|なんか|って|との|などと|など|と言|とか|のような|みたいな|とおっしゃ|と思|とお思|とお感じ|と感じ)"
)
# Speech has no brackets: what the customer said, reported in the honorific (ふざけるなとおっしゃった
# お気持ちは / 黙ってても客が来る、っておっしゃってましたもんね; Whisper writes おしゃる, オーシャル).
# An agent never says おっしゃる of their own words, so the clause before it is the customer's: back to
# the last 、 or 。 (Whisper often writes 、 where a sentence ended: 寝ぼけてんですか、さっきご自分で…
# 変えたっておっしゃった).
# The same for a wish of the customer's that the agent takes up: 知られたくないということでしたら /
# もう電話してくるなとのことでしたら.
_SAID_BY_CUSTOMER = re.compile(
    r"[^。？！?!、,]{1,40}?(?=[、,\s]*(?:(?:と|って)[、,\s]*(?:おっしゃ|仰|おしゃ(?:る|った|って|い)|オーシャ(?:ル|ッ))|(?:という|との|って)(?:こと|事)(?:でしたら|であれば|なら|でございましたら)"
    # What the customer or someone else said, reported back in an apology: バカにしてるのか、とのお言葉 /
    # ブッコロスぞというご発言 / うるさいと言われたとのこと / ブスは黙ってろと申したとのこと /
    # お客様のせいだと申し上げたつもりはなくて
    r"|(?:と|って|という|との|と言う|といった|と言った)[、,\s]*(?:お言葉|言葉|ご指摘|御指摘|ご意見|御意見|ご発言|御発言|発言|お叱り|ご批判|お申し出)"
    # バカにしてるのか、とのことですが、決してそのような (Whisper also writes との as どの after a pause)
    r"|[、,\s]*(?:との|という|どの)(?:こと|事)(?:ですが|ですけど|ですけれど|でございますが)"
    r"|(?:と|って)[、,\s]*[^。？！?!、,と]{0,8}?(?:言われ|申し)[^。？！?!、,]{0,4}?(?:とのこと|との事|ということ)"
    r"|(?:と|って)[、,\s]*申し上げた(?:つもり|わけ)"
    # How the customer took it: バカにしてるのかとお感じになったのは、私の説明不足で (past only: 絶対儲かると
    # お思いになって結構です is the agent's own claim)
    r"|(?:と|って)[、,\s]*(?:(?:お感じに|感じに|お思いに)(?:なった|なりました)|(?:感じ|思わ)れた|感じられた)"
    # What someone said to the customer, taken up by the agent: 殺すぞって言われたんですね / 出ていけと
    # 怒鳴られたんですか
    r"|(?:と|って)[、,\s]*(?:言われ|怒鳴られ|脅され)(?:た|まし)[^。？！?!、,]{0,3}?(?:んですね|んですか|のですね|のですか|んですよね|んやね|んだね|の[？?]|んか)))"
)

# A claim the agent names in order to deny it: 絶対に痩せるとはお約束できません / 必ず儲かるとかは
# 僕からは言えないっす / 絶対儲かるなんてことはあらへん / 必ず増えるというものではございません. The
# clause before the quotative is the claim, not the agent's word; a rule whose words run on into the
# denial (損することはありません) is not inside the clause and still fires. Speech puts a pause before
# the quotative (今日だけ、ってことはないですよ / 生えてこなくなる、というものでは); not before なんか,
# which is also a filler (その歳で独身って、なんか訳ありなんじゃ… is said, not denied).
_DENIED = re.compile(
    r"[^。？！?!、,]{1,40}?(?=\s*(?:とか|とも|と|(?:[、,]\s*)?(?:とは|っていう|って|という|といった)|なんて|なんか)"
    r"[^。？！?!、,]{0,12}?(?:約束|保証|断言|申せ|申し上げ|申し|言え|言い切れ|言い|言う|いう|こと|事|もの|物|わけ|訳|説明)"
    r"[^。？！?!、,]{0,6}?(?:ません|ない|ねえ|へん|かねま))"
    # 必ず勝てるということは、弁護士でもお約束できない (a pause after the topic)
    r"|[^。？！?!、,]{1,40}?(?=\s*(?:[、,]\s*)?(?:という|って|とは)(?:こと|事|の)?(?:は|も)[、,]\s*[^。？！?!、,]{0,16}?"
    r"(?:約束|保証|断言|申せ|申し上げられ|言え|言い切れ)[^。？！?!、,]{0,6}?(?:ません|ない|ねえ|へん|かねま))"
    # A claim it would be a lie to make: 損しないなんて言うたら嘘になります / 必ず通るって言ったらウソになる
    # (Whisper: そんしないなんて言う、たら嘘に)
    r"|[^。？！?!、,]{1,40}?(?=\s*(?:なんて|とか|って|と)\s*(?:言っ|言う|いっ|いう|申し上げ|申し)[、,]?\s*(?:たら|ちゃったら|てしまったら)[、,]?\s*(?:嘘|うそ|ウソ))"
    # A list of claims denied together: 元本保証とか、値上がりとか、そういったものは一切ございません.
    r"|[^。？！?!、,]{1,20}?(?=(?:とか|ですとか|や)[、,]?(?:[^。？！?!、,]{1,20}?(?:とか|ですとか)[、,]?)*\s*"
    r"(?:そういった|そういう|そうした|といった|などの|等の)(?:もの|物|お話|話|こと|事|商品|ご案内)(?:は|も)"
    r"[^。？！?!、,]{0,6}?(?:ません|ない|ねえ|へん|かねま))"
)
# A claim others make, which the agent warns about: 絶対儲かるなんて話をしてくる業者にはご注意ください /
# 必ず値上がりするなどと言って勧誘する業者 / 元本保証をうたう業者. The clause before the quotative is theirs.
_WARNED = re.compile(
    r"[^。？！?!、,]{1,40}?(?=\s*(?:(?:なんて|などと|とか|みたいな|といった|という)\s*(?:お|ご)?(?:話|こと|事|言葉|セールス|勧誘|営業|電話)?"
    r"(?:を|で)?\s*(?:し|する|言っ|言う|いう|持ちかけ|持ち掛け|うたっ|うたう|謳っ|謳う)|を\s*(?:うたっ|うたう|謳っ|謳う))"
    r"[^。？！?!、,]{0,8}?(?:業者|会社|人|者|電話|勧誘|セールス|話|広告|サイト))"
    # 年利20%保証なんて話は、まず疑ってかかって
    r"|[^。？！?!、,]{1,40}?(?=\s*(?:なんて|なんか|みたいな)\s*(?:お|うまい)?(?:話|こと|事|もの)(?:は|には|が|を)[、,]?"
    r"[^。？！?!]{0,16}?(?:疑|注意|気を付け|気をつけ|詐欺|嘘|うそ|ウソ|ありえ|あり得|信じ))"
)
# Cheap tests before the regexes: a word each of them cannot match without.
_SAID_CUES = (
    "おっしゃ",
    "おしゃ",
    "オーシャ",
    "感じ",
    "思い",
    "思わ",
    "仰",
    "こと",
    "事",
    "言葉",
    "指摘",
    "意見",
    "発言",
    "叱り",
    "批判",
    "申し出",
    "言われ",
    "怒鳴られ",
    "脅され",
    "つもり",
    "わけ",
)
_DENIAL_CUES = ("ません", "ない", "ねえ", "へん", "かねま", "嘘", "うそ", "ウソ")
_WARNED_CUES = ("なんて", "なんか", "などと", "とか", "みたいな", "という", "といった", "うた", "謳")


@lru_cache(maxsize=256)
def mentions(norm: str) -> tuple[tuple[int, int], ...]:
    """Spans of normalised text quoted in 「」 or 『』 and then talked about (という, なんて ...), or
    reported as what the customer said (...とおっしゃった): a rule hit inside one is a mention, not
    the agent saying it. Readings of a card number stay PII.
    Cached: every rule with a hit on the line asks for the same line's spans."""
    said = tuple(m.span() for m in _SAID_BY_CUSTOMER.finditer(norm)) if any(c in norm for c in _SAID_CUES) else ()
    if any(c in norm for c in _DENIAL_CUES):
        said += tuple(m.span() for m in _DENIED.finditer(norm))
    if any(c in norm for c in _WARNED_CUES):
        said += tuple(m.span() for m in _WARNED.finditer(norm))
    if "「" not in norm and "『" not in norm:
        return said
    return tuple(m.span() for m in _MENTION.finditer(norm)) + said
