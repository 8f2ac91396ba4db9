"""Rule packs: the YAML schema, the loader with file:line errors, and the matcher.

A pack is compiled once into patterns that work on a `Doc` (see text.py). `RuleSet.match` finds
the hits of every loaded rule in one line of text; `RequiredPhrases` keeps the call-level state of
phrases that must be said. See rules/README.md for the format.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .pii import DETECTORS, PiiFinder, mask_text
from .text import Analyzer, Doc, Token, fold_reading, fold_words, mentions, normalize

__all__ = [
    "CATEGORIES",
    "SEVERITIES",
    "Hit",
    "Pack",
    "PackError",
    "Problem",
    "RequiredPhrases",
    "Rule",
    "RuleSet",
    "default_rule_paths",
    "load_pack",
]

SEVERITIES = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
CATEGORIES = ("discrimination", "abusive", "misleading", "pii", "required_phrase")
_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]*\Z")
_PATTERN_NAME = re.compile(r"[a-z][a-z0-9_\-]*\Z")
_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
_MAX_GAP = 10


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule matching one place of a line. Offsets are into the text as given."""

    rule_id: str
    pack: str
    category: str
    severity: str
    start: int
    end: int
    matched: str  # masked for pii
    message: str = ""
    suggestion: str = ""

    def to_json(self) -> dict[str, Any]:
        """The hit as `rules match --json` writes it (DESIGN.md)."""
        return {
            "rule_id": self.rule_id,
            "pack": self.pack,
            "category": self.category,
            "severity": self.severity,
            "start": self.start,
            "end": self.end,
            "matched": self.matched,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a pack, at a line of its file."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class PackError(Exception):
    """A pack that cannot be used; `problems` says every reason, each with file:line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------- YAML with lines


class _Map(dict):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int
    lines: dict[Any, int]


class _List(list):
    """A YAML sequence that remembers the line of each item (1-based)."""

    line: int
    lines: list[int]


# libyaml's parser (~10x faster than the pure-Python one, same line marks) without implicit tag
# resolution: plain scalars are typed by _plain below, which is all a pack needs and much cheaper.
try:
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = None


class _Loader(_Parser or yaml.loader.Reader, yaml.constructor.SafeConstructor, yaml.resolver.BaseResolver):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        if _Parser is not None:
            _Parser.__init__(self, stream)
        else:  # pragma: no cover - PyYAML built without libyaml
            yaml.loader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.BaseResolver.__init__(self)


if _Parser is None:  # pragma: no cover
    _Loader.__bases__ = (yaml.loader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                         yaml.constructor.SafeConstructor, yaml.resolver.BaseResolver)  # fmt: skip

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)\Z")
_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_PLAIN = {"null": None, "Null": None, "NULL": None, "~": None, "": None,
          "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}  # fmt: skip


def _plain(value: str) -> Any:
    """A plain (unquoted) scalar as YAML 1.1's core types would read it: null, bool, int, float, text."""
    if value in _PLAIN:
        return _PLAIN[value]
    if _INT.match(value):
        return int(value.replace("_", ""))
    if _FLOAT.match(value):
        return float(value.replace("_", ""))
    return value


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(Problem(str(path), 1, f"cannot read the pack: {e}"))
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(str(path), line, f"not valid YAML: {e.problem or e.context}"))
        return None
    except yaml.YAMLError as e:
        problems.append(Problem(str(path), 1, f"not valid YAML: {e}"))
        return None
    finally:
        loader.dispose()
    if node is None:
        problems.append(Problem(str(path), 1, "the pack is empty"))
        return None
    constructor = yaml.constructor.SafeConstructor()
    return _convert(node, constructor, str(path), problems)


_STR = "tag:yaml.org,2002:str"


def _convert(node: yaml.Node, c: yaml.constructor.SafeConstructor, path: str, problems: list[Problem]) -> Any:
    kind = type(node)
    if kind is yaml.ScalarNode:
        if node.tag == _STR:
            # Plain (unquoted) scalars are typed here rather than by the resolver; quoted and
            # block scalars are text.
            return node.value if node.style else _plain(node.value)
        try:
            return c.construct_object(node, deep=True)  # explicitly tagged (!!int "3" etc.)
        except yaml.YAMLError as e:
            problems.append(Problem(path, node.start_mark.line + 1, f"bad value: {e}"))
            return None
    if kind is yaml.MappingNode:
        c.flatten_mapping(node)
        out = _Map()
        out.line = node.start_mark.line + 1
        lines: dict[Any, int] = {}
        out.lines = lines
        for key_node, value_node in node.value:
            key = _convert(key_node, c, path, problems)
            line = key_node.start_mark.line + 1
            if key is None or not isinstance(key, (str, int, float, bool)):
                problems.append(Problem(path, line, f"a key must be a plain word, not {key!r}"))
                continue
            if key in lines:
                problems.append(Problem(path, line, f"duplicate key '{key}' (first at line {lines[key]})"))
                continue
            out[key] = _convert(value_node, c, path, problems)
            lines[key] = line
        return out
    seq = _List([_convert(v, c, path, problems) for v in node.value])
    seq.line = node.start_mark.line + 1
    seq.lines = [v.start_mark.line + 1 for v in node.value]
    return seq


def _line(obj: Any, key: Any = None, default: int = 1) -> int:
    if key is not None:
        lines = getattr(obj, "lines", None)
        if isinstance(lines, dict) and key in lines:
            return lines[key]
        if isinstance(lines, list) and isinstance(key, int) and key < len(lines):
            return lines[key]
    return getattr(obj, "line", default)


# --------------------------------------------------------------------------- token patterns


class _Cond:
    """A test on one token. `keys` are strings one of which the token must carry (its lemma,
    surface or orthBase, or "^" and the first three kana of the folded reading from it)."""

    __slots__ = ("tests", "keys", "text", "reading")

    def __init__(self, tests: list[tuple[str, str]], text: str) -> None:
        self.text = text
        keys: frozenset[str] | None = None
        compiled: list[tuple[str, str, str, str]] = []
        # A lone word that may also match by reading, over one token or several (ガン|ポン).
        self.reading = ""
        for fld, value in tests:
            if fld == "word":
                lemma, surface, reading = value.split("\0")
                compiled.append((fld, lemma, surface, reading))
                keys = frozenset([lemma, surface, *(["^" + reading[:3]] if reading else [])])
                if len(tests) == 1:
                    self.reading = reading
            else:
                compiled.append((fld, value, "", ""))
                if fld in ("lemma", "surface", "orth"):
                    keys = frozenset([value])
        self.tests = tuple(compiled)
        self.keys = keys

    def ok(self, t: Token) -> bool:
        for fld, value, surface, reading in self.tests:
            if fld == "word":
                # The word as the tokenizer reads it alone, or as written: a lone particle or
                # auxiliary (ず, ない) is read as another word when it stands by itself. Or,
                # for a word of 3 kana or more, a token that reads the same (ガンポン for 元本).
                if (
                    t.lemma != value
                    and t.lemma != surface
                    and t.surface != surface
                    and t.orth != surface
                    and not (reading and fold_reading(t.reading) == reading)
                ):
                    return False
            elif fld == "lemma":
                if t.lemma != value:
                    return False
            elif fld == "surface":
                if t.surface != value:
                    return False
            elif fld == "orth":
                if t.orth != value:
                    return False
            elif fld == "reading":
                if fold_reading(t.reading) != value:
                    return False
            elif fld == "pos":
                if t.pos != value:
                    return False
            elif fld == "pos2":
                if t.pos2 != value:
                    return False
            elif fld == "cform":
                if not t.cform.startswith(value):
                    return False
        return True


@dataclass(slots=True)
class _Item:
    """One element of a token pattern: a condition, a sequence, alternatives or a gap."""

    kind: str  # "cond" | "seq" | "alt" | "gap"
    cond: _Cond | None = None
    items: list[_Item] = field(default_factory=list)
    gap: int = 0
    optional: bool = False
    # For alternatives: the plain words among them, tested with set look-ups instead of one by one.
    lemmas: frozenset[str] = frozenset()
    surfaces: frozenset[str] = frozenset()
    readings: dict[str, list[str]] = field(default_factory=dict)  # first 3 kana -> readings
    rest: list[_Item] = field(default_factory=list)  # alternatives that need the slow path

    def prepare(self) -> _Item:
        """Split alternatives into plain words (set look-ups) and the rest."""
        if self.kind != "alt":
            return self
        lemmas: set[str] = set()
        surfaces: set[str] = set()
        readings: dict[str, list[str]] = {}
        rest = []
        for it in self.items:
            tests = it.cond.tests if it.kind == "cond" and it.cond is not None else ()
            if len(tests) == 1 and tests[0][0] == "word" and not it.optional:
                _, lemma, surface, reading = tests[0]
                lemmas.update((lemma, surface))
                surfaces.add(surface)
                if reading:
                    readings.setdefault(reading[:3], []).append(reading)
            else:
                rest.append(it)
        self.lemmas, self.surfaces, self.readings, self.rest = frozenset(lemmas), frozenset(surfaces), readings, rest
        return self

    def keys(self) -> frozenset[str] | None:
        """Literal keys one of which must be present for this item to match, if known."""
        if self.optional or self.kind == "gap":
            return None
        if self.kind == "cond":
            return self.cond.keys if self.cond else None
        if self.kind == "seq":
            for it in self.items:
                k = it.keys()
                if k:
                    return k
            return None
        union: set[str] = set()
        for it in self.items:
            k = it.keys()
            if not k:
                return None
            union |= k
        return frozenset(union)


def _match_items(items: list[_Item], i: int, doc: Doc, pos: int) -> Iterator[int]:
    """Yield every end position at which items[i:] match doc.words from pos."""
    if i == len(items):
        yield pos
        return
    it = items[i]
    if it.kind == "gap":
        for skip in range(0, it.gap + 1):
            if pos + skip > len(doc.words):
                break
            yield from _match_items(items, i + 1, doc, pos + skip)
        return
    for end in _match_one(it, doc, pos):
        yield from _match_items(items, i + 1, doc, end)
    if it.optional:
        yield from _match_items(items, i + 1, doc, pos)


def _match_one(it: _Item, doc: Doc, pos: int) -> Iterator[int]:
    if it.kind == "cond":
        cond = it.cond
        if cond is None or pos >= len(doc.words):
            return
        if cond.ok(doc.words[pos]):
            yield pos + 1
        if cond.reading and doc.prefix3[pos] == cond.reading[:3]:
            for end in doc.reading_ends(cond.reading, pos):
                if end > pos + 1:
                    yield end
    elif it.kind == "seq":
        yield from _match_items(it.items, 0, doc, pos)
    elif it.kind == "alt":
        if pos < len(doc.words):
            t = doc.words[pos]
            if t.lemma in it.lemmas or t.surface in it.surfaces or t.orth in it.surfaces:
                yield pos + 1
            candidates = it.readings.get(doc.prefix3[pos])
            if candidates:
                one = fold_reading(t.reading)
                for reading in candidates:
                    if reading == one:
                        yield pos + 1
                    for end in doc.reading_ends(reading, pos):
                        if end > pos + 1:
                            yield end
        for alt in it.rest:
            yield from _match_one(alt, doc, pos)


_FIELDS = ("lemma", "surface", "orth", "reading", "pos", "pos2", "cform")


class _PatternSyntaxError(ValueError):
    pass


class TokenPattern:
    """A compiled `tokens:` pattern."""

    kind = "tokens"

    def __init__(self, source: str, analyzer: Analyzer, by_reading: bool = True) -> None:
        self.source = source
        self._analyzer = analyzer
        self._by_reading = by_reading
        self.plain_words: list[Token] | None = []  # the words' tokens, when the pattern is plain words
        elements = source.split()
        if not elements:
            raise _PatternSyntaxError("empty token pattern")
        items = [self._element(e) for e in elements]
        while items and items[0].kind == "gap":
            items.pop(0)
        while items and items[-1].kind == "gap":
            items.pop()
        if not items or all(it.optional for it in items):
            raise _PatternSyntaxError(f"token pattern '{source}' has no required element")
        self.items = items
        self.keys = _Item("seq", items=items).keys()
        # When the first element is what the index keys on, only tokens carrying a key can start a match.
        self.anchored = self.keys is not None and items[0].keys() == self.keys
        # Every required element's keys: a line lacking any of them cannot match.
        self.required_keys = [k for k in (it.keys() for it in items) if k]

    def _element(self, e: str) -> _Item:
        m = re.fullmatch(r"\.\.\.(\d*)", e)
        if m:
            n = int(m.group(1) or 3)
            if not 1 <= n <= _MAX_GAP:
                raise _PatternSyntaxError(f"gap '{e}' must be ...1 to ...{_MAX_GAP}")
            self.plain_words = None
            return _Item("gap", gap=n)
        optional = e.endswith("?") and len(e) > 1
        if optional:
            e = e[:-1]
        alts = [self._alternative(a) for a in e.split("|")]
        if optional or len(alts) > 1:
            self.plain_words = None
        item = alts[0] if len(alts) == 1 else _Item("alt", items=alts).prepare()
        item.optional = optional
        return item

    def _alternative(self, a: str) -> _Item:
        if not a:
            raise _PatternSyntaxError(f"empty alternative in '{self.source}'")
        if a == "*":
            self.plain_words = None
            return _Item("cond", cond=_Cond([], "*"))
        conds = a.split("&")
        tests: list[tuple[str, str]] = []
        word_tokens: list[Token] | None = None
        for c in conds:
            if "=" in c:
                fld, _, value = c.partition("=")
                if fld not in _FIELDS:
                    raise _PatternSyntaxError(f"unknown token field '{fld}' in '{a}' (one of {', '.join(_FIELDS)})")
                if not value:
                    raise _PatternSyntaxError(f"empty value for '{fld}' in '{a}'")
                value = normalize(value)[0]
                if fld == "reading":
                    value = fold_reading(value)
                if fld == "lemma":
                    value = value.split("-", 1)[0] if "-" in value and not value.startswith("-") else value
                tests.append((fld, value))
                self.plain_words = None
            else:
                toks = self._analyzer.word(c)
                if not toks:
                    raise _PatternSyntaxError(f"'{c}' has no word in it")
                if len(toks) > 1:
                    if len(conds) > 1:
                        raise _PatternSyntaxError(
                            f"'{c}' is several words ({'|'.join(t.surface for t in toks)}); it cannot be combined with '&'"
                        )
                    word_tokens = toks
                else:
                    tests.append(("word", self._word(toks[0])))
                    if self.plain_words is not None:
                        self.plain_words.append(toks[0])
        if word_tokens is not None:
            if self.plain_words is not None:
                self.plain_words.extend(word_tokens)
            split = _Item(
                "seq",
                items=[_Item("cond", cond=_Cond([("word", self._word(t))], t.surface)) for t in word_tokens],
            )
            # The tokenizer may split the word alone (ロ|コーン) but not in a sentence (ロコーン), or
            # the other way round: the whole word also matches as written or by its reading.
            word = normalize(a)[0]
            reading = fold_words(word_tokens).text if self._by_reading and not word.isascii() else ""
            whole = _Cond([("word", f"{word}\0{word}\0{reading if len(reading) >= 3 else ''}")], word)
            return _Item("alt", items=[split, _Item("cond", cond=whole)]).prepare()
        return _Item("cond", cond=_Cond(tests, a))

    def _word(self, t: Token) -> str:
        # Only readings of 3 kana or more: shorter ones are everyday words in kana (ほぼ for 保母).
        reading = fold_reading(t.reading) if self._by_reading and not t.surface.isascii() else ""
        return f"{t.lemma}\0{t.surface}\0{reading if len(reading) >= 3 else ''}"

    def auto_reading(self) -> str | None:
        """The folded reading of a pattern made of plain words, if it is long enough to trust."""
        if not self.plain_words or any(t.surface.isascii() for t in self.plain_words):
            return None
        reading = fold_words(self.plain_words).text
        return reading if len(reading) >= 3 else None

    def find(self, doc: Doc) -> list[tuple[int, int]]:
        """Spans of normalised text where the pattern matches."""
        words = doc.words
        if any(doc.index.keys().isdisjoint(ks) for ks in self.required_keys):
            return []
        if self.anchored:
            # Only where a word carries one of the first element's keys can a match begin.
            starts: Iterable[int] = sorted({i for k in self.keys or () for i in doc.index.get(k, ())})
        else:
            starts = range(len(words))
        spans: list[tuple[int, int]] = []
        last_end = -1
        for s in starts:
            if s < last_end:
                continue
            for e in _match_items(self.items, 0, doc, s):
                if e > s:
                    spans.append((words[s].start, words[e - 1].end))
                    last_end = e
                    break
        return spans


class ReadingPattern:
    """A compiled `reading:` pattern: folded katakana matched on token boundaries."""

    kind = "reading"

    def __init__(self, source: str, analyzer: Analyzer | None = None, folded: str | None = None) -> None:
        self.source = source
        if folded is not None:
            self.reading = folded
            return
        norm = normalize(source)[0]
        if not norm or not re.fullmatch(r"[ぁ-ゖァ-ヺー]+", norm):
            raise _PatternSyntaxError(f"reading '{source}' must be hiragana or katakana only")
        # Folded as the text will be: split into words first (りすく|は|あり is not リスクハーリ).
        self.reading = analyzer.fold(norm) if analyzer is not None else fold_reading(norm)

    def find(self, doc: Doc) -> list[tuple[int, int]]:
        return doc.find_reading(self.reading)

    def find_at(self, doc: Doc, i: int) -> list[tuple[int, int]]:
        return doc.find_reading(self.reading, i)


def _required_literal(pattern: str) -> str | None:
    """A literal string every match of the regex contains, to skip the regex cheaply."""
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse  # type: ignore[no-redef]
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    best, run = "", []
    for op, arg in parsed:
        if op == sre_parse.LITERAL:
            run.append(chr(arg))
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    if len(run) > len(best):
        best = "".join(run)
    return best or None


class RegexPattern:
    """A compiled `regex:` pattern on normalised text."""

    kind = "regex"

    def __init__(self, source: str, boundary: bool = True) -> None:
        self.source = source
        self.boundary = boundary
        try:
            self.regex = re.compile(source)
        except re.error as e:
            raise _PatternSyntaxError(f"regex '{source}' does not compile: {e}") from e
        self.literal = _required_literal(source)

    def find(self, doc: Doc) -> list[tuple[int, int]]:
        if self.literal is not None and self.literal not in doc.norm:
            return []
        spans = []
        bounds = doc.boundaries if self.boundary else None
        for m in self.regex.finditer(doc.norm):
            if m.end() <= m.start():
                continue
            if bounds is not None and (m.start() not in bounds or m.end() not in bounds):
                continue
            spans.append((m.start(), m.end()))
        return spans


class PiiPattern:
    """A `pii:` detector."""

    kind = "pii"

    def __init__(self, detector: str) -> None:
        if detector not in DETECTORS:
            raise _PatternSyntaxError(f"unknown pii detector '{detector}' (one of {', '.join(DETECTORS)})")
        self.source = detector
        self.detector = detector

    def find_masked(self, finder: PiiFinder) -> list[tuple[int, int, tuple[tuple[int, int], ...]]]:
        return [(s.start, s.end, s.mask) for s in finder.find(self.detector)]


class ModelPattern:
    """A `model:` learned classifier (monitor.learned), asked for the rule's category."""

    kind = "model"

    def __init__(self, source: str, path: Path, category: str) -> None:
        from .learned import Classifier

        self.source = source
        self.path = path
        self.category = category
        try:
            self.classifier = Classifier.load(path)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:  # RuntimeError: no word vectors
            raise _PatternSyntaxError(f"cannot load model '{source}': {e}") from e
        if category not in self.classifier.categories:
            raise _PatternSyntaxError(
                f"model '{source}' knows no category '{category}' (it has {', '.join(self.classifier.categories)})"
            )

    def find(self, doc: Doc, margin: float = 0.0) -> list[tuple[int, int]]:
        return self.classifier.find(doc, self.category, margin)


# --------------------------------------------------------------------------- rules and packs


@dataclass(eq=False, slots=True)
class Rule:
    """A compiled rule."""

    id: str
    pack: str
    category: str
    severity: str
    message: str
    suggestion: str
    tokens: list[TokenPattern]
    readings: list[ReadingPattern]
    regexes: list[RegexPattern]
    pii: PiiPattern | None
    model: ModelPattern | None
    overrules: tuple[str, ...]  # packs whose rules of its category give way where its model reads clean
    unless: list[Any]  # TokenPattern | ReadingPattern | RegexPattern
    unless_window: int
    required_within: float | None  # seconds; inf = before the call ends
    match_examples: list[tuple[str, int]]
    no_match_examples: list[tuple[str, int]]
    note: str
    line: int
    path: str

    @property
    def required(self) -> bool:
        return self.required_within is not None

    def find(self, doc: Doc, finder: PiiFinder | None = None) -> list[Hit]:
        """This rule's hits in a doc, on its own (used for examples and required phrases)."""
        raw: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
        for p in self.tokens:
            raw.extend((s, e, ()) for s, e in p.find(doc))
        for p in self.readings:
            raw.extend((s, e, ()) for s, e in p.find(doc))
        for p in self.regexes:
            raw.extend((s, e, ()) for s, e in p.find(doc))
        if self.pii is not None:
            raw.extend(self.pii.find_masked(finder or PiiFinder(doc)))
        if self.model is not None:
            raw.extend((s, e, ()) for s, e in self.model.find(doc))
        return self.hits(doc, raw)

    def hits(
        self,
        doc: Doc,
        raw: list[tuple[int, int, tuple[tuple[int, int], ...]]],
        cancelled: list[int] | None = None,
    ) -> list[Hit]:
        """Turn raw spans of normalised text into hits: drop the `unless` ones (and quoted
        mentions), merge overlaps. `cancelled` collects where each dropped span starts in the text."""
        if not raw:
            return []
        kept = raw
        if self.unless:
            cancel = [span for p in self.unless for span in p.find(doc)]
            w = self.unless_window
            kept = [r for r in kept if not any(cs < r[1] + w and r[0] - w < ce for cs, ce in cancel)]
        if self.category != "pii":
            quotes = mentions(doc.norm)
            kept = [r for r in kept if not any(qs <= r[0] and r[1] <= qe for qs, qe in quotes)]
        if cancelled is not None and len(kept) < len(raw):
            cancelled.extend(doc.span(r[0], r[1])[0] for r in raw if r not in kept)
        raw = sorted(kept)
        merged: list[list[Any]] = []
        for s, e, mask in raw:
            if merged and s < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
                merged[-1][2] = merged[-1][2] + tuple(mask)
            else:
                merged.append([s, e, tuple(mask)])
        out = []
        for s, e, mask in merged:
            o_start, o_end = doc.span(s, e)
            if self.category == "pii" or mask:
                matched = mask_text(doc, s, e, list(mask) or [(s, e)])
            else:
                matched = doc.text[o_start:o_end]
            out.append(
                Hit(
                    self.id,
                    self.pack,
                    self.category,
                    self.severity,
                    o_start,
                    o_end,
                    matched,
                    self.message,
                    self.suggestion,
                )
            )
        return out


@dataclass(eq=False, slots=True)
class Pack:
    """A compiled rule pack."""

    id: str
    name: str
    version: str
    language: str
    description: str
    source: str
    path: str
    rules: list[Rule]
    stamp: tuple[tuple[float, int], ...] = ()  # (mtime, size) of the file and its models: what reload compares


_PACK_FIELDS = {
    "id": str,
    "name": str,
    "version": (str, int, float),
    "language": str,
    "description": str,
    "source": str,
    "license": str,
}
_PACK_REQUIRED = ("id", "name", "version", "language")
_RULE_FIELDS = {
    "id": str,
    "category": str,
    "severity": str,
    "message": str,
    "suggestion": str,
    "tokens": (str, list),
    "reading": (str, list),
    "regex": (str, list, dict),
    "pii": str,
    "model": str,
    "overrules": (str, list),
    "unless": dict,
    "required": dict,
    "examples": dict,
    "note": str,
    "auto_reading": bool,
}
_DEFAULT_FIELDS = ("category", "severity", "message", "suggestion", "note", "auto_reading")
_RULE_REQUIRED = ("id", "category", "severity", "message", "suggestion", "examples")
_TYPE_NAMES = {
    str: "text",
    list: "a list",
    dict: "a mapping",
    bool: "true or false",
    int: "a number",
    float: "a number",
}


def _type_name(t: Any) -> str:
    if isinstance(t, tuple):
        return " or ".join(dict.fromkeys(_TYPE_NAMES[x] for x in t))
    return _TYPE_NAMES[t]


def _is(value: Any, t: Any) -> bool:
    if isinstance(value, bool) and t is not bool and (t is int or (isinstance(t, tuple) and bool not in t)):
        return False
    return isinstance(value, t)


class _PackCompiler:
    def __init__(self, path: Path, analyzer: Analyzer, verify: bool) -> None:
        self.path = path
        self.analyzer = analyzer
        self.verify = verify
        self.problems: list[Problem] = []
        self.named: dict[str, str] = {}

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(str(self.path), line, message))

    def compile(self) -> Pack:
        data = _read_yaml(self.path, self.problems)
        if self.problems:
            raise PackError(self.problems)
        if not isinstance(data, dict):
            self.problem(_line(data), "a pack is a mapping with 'pack' and 'rules'")
            raise PackError(self.problems)
        for key in data:
            if key not in ("pack", "defaults", "patterns", "rules"):
                self.problem(
                    _line(data, key), f"unknown top-level field '{key}' (expected pack, defaults, patterns, rules)"
                )
        meta = self._meta(data)
        defaults = self._defaults(data)
        self.named = self._named(data)
        rules_data = data.get("rules")
        rules: list[Rule] = []
        if not isinstance(rules_data, list) or not rules_data:
            self.problem(_line(data, "rules"), "'rules' must be a non-empty list of rules")
        else:
            seen: dict[str, int] = {}
            for i, rd in enumerate(rules_data):
                line = _line(rules_data, i)
                if not isinstance(rd, dict):
                    self.problem(line, "each rule must be a mapping")
                    continue
                rule = self._rule(rd, line, defaults, meta.get("id", "?"))
                if rule is None:
                    continue
                if rule.id in seen:
                    self.problem(
                        _line(rd, "id", line), f"duplicate rule id '{rule.id}' (first at line {seen[rule.id]})"
                    )
                    continue
                seen[rule.id] = _line(rd, "id", line)
                rules.append(rule)
        if not self.problems and self.verify:
            for rule in rules:
                self._verify(rule)
        if self.problems:
            raise PackError(self.problems)
        return Pack(
            id=meta["id"],
            name=meta["name"],
            version=str(meta["version"]),
            language=meta["language"],
            description=meta.get("description", ""),
            source=meta.get("source", ""),
            path=str(self.path),
            rules=rules,
            stamp=_stamp(self.path, rules),
        )

    def _check_fields(self, d: dict, allowed: dict[str, Any], what: str) -> None:
        for key, value in d.items():
            line = _line(d, key)
            if key not in allowed:
                self.problem(line, f"{what}: unknown field '{key}' (allowed: {', '.join(allowed)})")
            elif not _is(value, allowed[key]):
                self.problem(line, f"{what}: '{key}' must be {_type_name(allowed[key])}, not {_describe(value)}")

    def _meta(self, data: dict) -> dict:
        meta = data.get("pack")
        if not isinstance(meta, dict):
            self.problem(_line(data, "pack"), "'pack' must be a mapping with id, name, version, language")
            return {}
        self._check_fields(meta, _PACK_FIELDS, "pack")
        for key in _PACK_REQUIRED:
            if key not in meta:
                self.problem(_line(meta), f"pack: missing field '{key}'")
        pid = meta.get("id")
        if isinstance(pid, str) and not _ID.match(pid):
            self.problem(_line(meta, "id"), f"pack: id '{pid}' must be lower case letters, digits, '.', '_' or '-'")
        return meta

    def _defaults(self, data: dict) -> dict:
        d = data.get("defaults")
        if d is None:
            return {}
        if not isinstance(d, dict):
            self.problem(_line(data, "defaults"), "'defaults' must be a mapping")
            return {}
        self._check_fields(d, {k: _RULE_FIELDS[k] for k in _DEFAULT_FIELDS}, "defaults")
        return d

    def _named(self, data: dict) -> dict[str, str]:
        """The pack's named sub-patterns (`patterns: {name: regex}`), which its regexes write as {{name}}."""
        d = data.get("patterns")
        if d is None:
            return {}
        if not isinstance(d, dict):
            self.problem(_line(data, "patterns"), "'patterns' must be a mapping of names to regexes")
            return {}
        named: dict[str, str] = {}
        for name, text in d.items():
            line = _line(d, name)
            if not isinstance(name, str) or not _PATTERN_NAME.match(name):
                self.problem(line, f"patterns: name '{name}' must be lower case letters, digits, '_' or '-'")
            elif not isinstance(text, str):
                self.problem(line, f"patterns: '{name}' must be a regex (text), not {_describe(text)}")
            elif _PLACEHOLDER.search(text):
                self.problem(line, f"patterns: '{name}' may not use another pattern")
            else:
                try:
                    re.compile(text)
                except re.error as e:
                    self.problem(line, f"patterns: '{name}' does not compile: {e}")
                    continue
                named[name] = text
        return named

    def _expand(self, source: str) -> str:
        """A regex with its {{name}} placeholders replaced by the pack's named patterns, as groups."""

        def one(m: re.Match) -> str:
            name = m.group(1)
            if name not in self.named:
                known = ", ".join(self.named) or "none"
                raise _PatternSyntaxError(f"unknown pattern '{{{{{name}}}}}' (the pack's patterns: {known})")
            return f"(?:{self.named[name]})"

        return _PLACEHOLDER.sub(one, source)

    def _rule(self, rd: dict, line: int, defaults: dict, pack_id: str) -> Rule | None:
        before = len(self.problems)
        rid = rd.get("id")
        what = f"rule '{rid}'" if isinstance(rid, str) else "rule"
        self._check_fields(rd, _RULE_FIELDS, what)
        merged = {k: v for k, v in defaults.items() if _is(v, _RULE_FIELDS[k])}
        merged.update({k: v for k, v in rd.items() if k in _RULE_FIELDS and _is(v, _RULE_FIELDS[k])})
        for key in _RULE_REQUIRED:
            if key not in merged and key in rd:
                continue  # wrong type, already said
            if key not in merged:
                self.problem(line, f"{what}: missing field '{key}'")
        if isinstance(rid, str) and not _ID.match(rid):
            self.problem(_line(rd, "id", line), f"{what}: id must be lower case letters, digits, '.', '_' or '-'")
        sev = merged.get("severity")
        if isinstance(sev, str) and sev not in SEVERITIES:
            self.problem(
                _line(rd, "severity", line), f"{what}: severity '{sev}' must be one of {', '.join(SEVERITIES)}"
            )
        cat = merged.get("category")
        if isinstance(cat, str) and not _ID.match(cat):
            self.problem(
                _line(rd, "category", line), f"{what}: category '{cat}' must be lower case letters, digits or '_'"
            )
        for key in ("message", "suggestion"):
            if isinstance(merged.get(key), str) and not merged[key].strip():
                self.problem(_line(rd, key, line), f"{what}: '{key}' must not be empty")

        auto = merged.get("auto_reading", True)
        tokens, readings, regexes = self._patterns(rd, what, line, auto)
        pii = None
        if isinstance(rd.get("pii"), str):
            try:
                pii = PiiPattern(rd["pii"])
            except _PatternSyntaxError as e:
                self.problem(_line(rd, "pii", line), f"{what}: {e}")
        model = None
        if isinstance(rd.get("model"), str) and isinstance(merged.get("category"), str):
            try:
                model = ModelPattern(rd["model"], Path(self.path).parent / rd["model"], merged["category"])
            except _PatternSyntaxError as e:
                self.problem(_line(rd, "model", line), f"{what}: {e}")
        overrules: tuple[str, ...] = ()
        if "overrules" in rd:
            packs = rd["overrules"] if isinstance(rd["overrules"], list) else [rd["overrules"]]
            if "model" not in rd:
                self.problem(_line(rd, "overrules", line), f"{what}: only a 'model' rule overrules other rules")
            elif not packs or not all(isinstance(p, str) and p.strip() for p in packs):
                self.problem(_line(rd, "overrules", line), f"{what}: 'overrules' must name packs by their id")
            else:
                overrules = tuple(p.strip() for p in packs)
        if not (tokens or readings or regexes or pii or model) and not any(
            k in rd for k in ("tokens", "reading", "regex", "pii", "model")
        ):
            self.problem(line, f"{what}: needs at least one pattern: tokens, reading, regex, pii or model")

        unless: list[Any] = []
        window = 0
        if isinstance(rd.get("unless"), dict):
            u = rd["unless"]
            self._check_fields(
                u,
                {"tokens": (str, list), "reading": (str, list), "regex": (str, list, dict), "window": int},
                f"{what} unless",
            )
            ut, ur, ux = self._patterns(u, f"{what} unless", _line(rd, "unless", line), auto)
            unless = [*ut, *ur, *ux]
            if not unless and not any(k in u for k in ("tokens", "reading", "regex")):
                self.problem(_line(rd, "unless", line), f"{what}: 'unless' needs tokens, reading or regex")
            window = u.get("window", 0) if isinstance(u.get("window", 0), int) else 0
            if window < 0:
                self.problem(_line(u, "window", line), f"{what}: unless window must be 0 or more")

        required_within = None
        if isinstance(rd.get("required"), dict):
            req = rd["required"]
            self._check_fields(req, {"within": (int, float, str)}, f"{what} required")
            within = req.get("within")
            if within == "end":
                required_within = float("inf")
            elif isinstance(within, (int, float)) and not isinstance(within, bool) and within > 0:
                required_within = float(within)
            else:
                self.problem(
                    _line(req, "within", _line(rd, "required", line)),
                    f"{what}: required 'within' must be a number of seconds or 'end'",
                )
            if pii is not None:
                self.problem(_line(rd, "pii", line), f"{what}: a required phrase cannot be a pii detector")
            if model is not None:
                self.problem(_line(rd, "model", line), f"{what}: a required phrase cannot be a model")

        match_ex: list[tuple[str, int]] = []
        no_match_ex: list[tuple[str, int]] = []
        ex = rd.get("examples")
        if isinstance(ex, dict):
            self._check_fields(ex, {"match": list, "no_match": list}, f"{what} examples")
            for key, target in (("match", match_ex), ("no_match", no_match_ex)):
                items = ex.get(key)
                if not isinstance(items, list):
                    if key not in ex:
                        self.problem(
                            _line(ex, default=line), f"{what}: examples need '{key}' with at least two sentences"
                        )
                    continue
                for i, s in enumerate(items):
                    if isinstance(s, str) and s.strip():
                        target.append((s, _line(items, i)))
                    else:
                        self.problem(_line(items, i), f"{what}: example must be a sentence, not {_describe(s)}")
                if len(items) < 2:
                    self.problem(
                        _line(ex, key), f"{what}: at least two '{key}' examples are needed, {len(items)} given"
                    )

        if len(self.problems) > before:
            return None
        return Rule(
            id=rid,
            pack=pack_id,
            category=merged["category"],
            severity=merged["severity"],
            message=merged["message"].strip(),
            suggestion=merged["suggestion"].strip(),
            tokens=tokens,
            readings=readings,
            regexes=regexes,
            pii=pii,
            model=model,
            overrules=overrules,
            unless=unless,
            unless_window=window,
            required_within=required_within,
            match_examples=match_ex,
            no_match_examples=no_match_ex,
            note=merged.get("note", ""),
            line=line,
            path=str(self.path),
        )

    def _patterns(
        self, d: dict, what: str, line: int, auto: bool
    ) -> tuple[list[TokenPattern], list[ReadingPattern], list[RegexPattern]]:
        tokens: list[TokenPattern] = []
        readings: list[ReadingPattern] = []
        regexes: list[RegexPattern] = []
        for key in ("tokens", "reading", "regex"):
            if key not in d:
                continue
            value = d[key]
            values = value if isinstance(value, list) else [value]
            for i, v in enumerate(values):
                vline = _line(value, i) if isinstance(value, list) else _line(d, key, line)
                try:
                    if key == "tokens":
                        if not isinstance(v, str):
                            raise _PatternSyntaxError(f"a token pattern must be text, not {_describe(v)}")
                        tp = TokenPattern(v, self.analyzer, by_reading=auto)
                        tokens.append(tp)
                        r = tp.auto_reading() if auto else None
                        if r and all(x.reading != r for x in readings):
                            readings.append(ReadingPattern(v, folded=r))
                    elif key == "reading":
                        if not isinstance(v, str):
                            raise _PatternSyntaxError(f"a reading must be text, not {_describe(v)}")
                        rp = ReadingPattern(v, self.analyzer)
                        if all(x.reading != rp.reading for x in readings):
                            readings.append(rp)
                    else:
                        if isinstance(v, dict):
                            extra = set(v) - {"pattern", "boundary"}
                            if (
                                extra
                                or not isinstance(v.get("pattern"), str)
                                or not isinstance(v.get("boundary", True), bool)
                            ):
                                raise _PatternSyntaxError("a regex is text or {pattern: text, boundary: true|false}")
                            regexes.append(RegexPattern(self._expand(v["pattern"]), v.get("boundary", True)))
                        elif isinstance(v, str):
                            regexes.append(RegexPattern(self._expand(v)))
                        else:
                            raise _PatternSyntaxError(f"a regex must be text, not {_describe(v)}")
                except _PatternSyntaxError as e:
                    self.problem(vline, f"{what}: {e}")
        return tokens, readings, regexes

    def _verify(self, rule: Rule) -> None:
        for problem in verify_rule(rule, self.analyzer):
            self.problems.append(problem)


def verify_rule(rule: Rule, analyzer: Analyzer) -> list[Problem]:
    """Run a rule's own examples; one problem per example that does not behave as stated."""
    problems = []
    for text, line in rule.match_examples:
        if not rule.find(analyzer.analyze(text)):
            problems.append(Problem(rule.path, line, f"rule '{rule.id}': example should match but does not: {text}"))
    for text, line in rule.no_match_examples:
        hits = rule.find(analyzer.analyze(text))
        if hits:
            problems.append(
                Problem(
                    rule.path,
                    line,
                    f"rule '{rule.id}': example should not match but does at '{hits[0].matched}': {text}",
                )
            )
    return problems


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _stamp(path: Path, rules: Iterable[Rule]) -> tuple[tuple[float, int], ...]:
    """(mtime, size) of a pack file and of the model files its rules ask: a retrained model is a
    changed pack."""
    out = []
    for p in (path, *(r.model.path for r in rules if r.model is not None)):
        try:
            st = p.stat()
            out.append((st.st_mtime, st.st_size))
        except OSError:  # (a model gone: compiling again says so)
            out.append((-1.0, -1))
    return tuple(out)


def load_pack(path: str | os.PathLike[str], analyzer: Analyzer | None = None, verify: bool = True) -> Pack:
    """Compile one pack file; raises `PackError` listing every problem with file:line.

    Args:
        path: the YAML file.
        analyzer: the tokenizer to compile token patterns with (one is made if not given).
        verify: run every rule's examples and refuse the pack if one fails.
    """
    # Compiling builds a few hundred thousand small objects that live on; the cyclic garbage
    # collector would rescan them over and over (3-4x the compile time for a 5,000-rule pack).
    # Nothing here makes cycles, so it is paused while the pack compiles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _PackCompiler(Path(path), analyzer or Analyzer(), verify).compile()
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- the rule set


def default_rule_paths() -> list[Path]:
    """Where packs are found when none are named: $SPEECH_MONITOR_RULES, else the project's rules/."""
    env = os.environ.get("SPEECH_MONITOR_RULES")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    here = Path(__file__).resolve().parent.parent / "rules"
    if here.is_dir():
        return [here]
    return [Path("rules")]


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Problem]]:
    """Pack files named by paths (a folder means every *.yaml/*.yml in it)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                problems.append(Problem(str(p), 1, "no *.yaml rule packs in this folder"))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem(str(p), 1, "no such rule pack or folder"))
    return files, problems


class RuleSet:
    """The loaded packs, indexed for matching many rules against one line at a time."""

    def __init__(self, packs: Sequence[Pack], analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or Analyzer()
        self.packs = list(packs)
        self.rules = [r for p in self.packs for r in p.rules]
        self.line_rules = [r for r in self.rules if not r.required]
        self.required_rules = [r for r in self.rules if r.required]
        self._index()

    @classmethod
    def load(
        cls,
        paths: Iterable[str | os.PathLike[str]] | None = None,
        analyzer: Analyzer | None = None,
        verify: bool = True,
        previous: RuleSet | None = None,
    ) -> tuple[RuleSet, list[Problem]]:
        """Load packs; a broken pack is left out (or, with `previous`, its old version is kept).

        Returns:
            The rule set and every problem found, each with file:line.
        """
        analyzer = analyzer or (previous.analyzer if previous else Analyzer())
        files, problems = expand_paths(paths if paths is not None else default_rule_paths())
        old = {p.path: p for p in previous.packs} if previous else {}
        packs: list[Pack] = []
        rule_ids: dict[str, str] = {}
        pack_ids: dict[str, str] = {}
        for f in files:
            pack = None
            prev = old.get(str(f))
            try:
                if prev is not None and prev.stamp == _stamp(f, prev.rules):
                    pack = prev
                else:
                    pack = load_pack(f, analyzer, verify)
            except PackError as e:
                problems.extend(e.problems)
                pack = prev  # keep the version in force
            except OSError as e:
                problems.append(Problem(str(f), 1, f"cannot read the pack: {e}"))
                pack = prev
            if pack is None:
                continue
            clash = []
            if pack.id in pack_ids:
                clash.append(Problem(str(f), 1, f"pack id '{pack.id}' is already used by {pack_ids[pack.id]}"))
            for r in pack.rules:
                if r.id in rule_ids:
                    clash.append(Problem(str(f), r.line, f"rule id '{r.id}' is already used in {rule_ids[r.id]}"))
            if clash:
                problems.extend(clash)
                continue
            pack_ids[pack.id] = str(f)
            rule_ids.update((r.id, str(f)) for r in pack.rules)
            packs.append(pack)
        return cls(packs, analyzer), problems

    def reload(self, paths: Iterable[str | os.PathLike[str]] | None = None) -> tuple[RuleSet, list[Problem]]:
        """Load changed packs again; a pack that broke keeps its old version."""
        return RuleSet.load(paths if paths is not None else [p.path for p in self.packs], previous=self)

    def _index(self) -> None:
        # Token patterns are found through one literal key they need (a lemma or surface);
        # readings through their first two kana. Everything else is tried on every line.
        self._by_key: dict[str, list[tuple[Rule, TokenPattern]]] = {}
        self._token_always: list[tuple[Rule, TokenPattern]] = []
        self._by_kana: dict[str, list[tuple[Rule, ReadingPattern]]] = {}
        self._regexes: list[tuple[Rule, RegexPattern]] = []
        self._pii: list[tuple[Rule, PiiPattern]] = []
        self._models: list[tuple[Rule, ModelPattern]] = []
        for rule in self.line_rules:
            for tp in rule.tokens:
                if tp.keys:
                    for k in tp.keys:
                        self._by_key.setdefault(k, []).append((rule, tp))
                else:
                    self._token_always.append((rule, tp))
            for rp in rule.readings:
                self._by_kana.setdefault(rp.reading[:2], []).append((rule, rp))
            for xp in rule.regexes:
                self._regexes.append((rule, xp))
            if rule.pii is not None:
                self._pii.append((rule, rule.pii))
            if rule.model is not None:
                self._models.append((rule, rule.model))
        self.model_rule_ids = frozenset(r.id for r, _ in self._models)

    def analyze(self, text: str) -> Doc:
        return self.analyzer.analyze(text)

    def match(
        self,
        text_or_doc: str | Doc,
        learned_on: Sequence[tuple[int, Doc, float]] | None = None,
        judged: set[str] | None = None,
        overruled: list[Hit] | None = None,
    ) -> list[Hit]:
        """Every line-level rule's hits in one line, in order of position.

        `learned_on` = [(offset, doc of a piece of the line's text from that offset on, margin), ...]:
        what a learned model reads instead of the whole line (the last sentences of a longer context,
        one by one; its evidence is diluted by the sentences around it), each needing its category's
        threshold + margin. Its hits are shifted back into the line. `judged`, when given, receives
        the categories whose rules found words there and let them go (an `unless` or a quoted
        mention): a learned model of those categories stays quiet on the line (on that piece).
        `overruled`, when given, receives the written rules' hits a learned model's rule overrules
        (its `overrules`): in a piece the model reads as clean."""
        doc = self.analyzer.analyze(text_or_doc) if isinstance(text_or_doc, str) else text_or_doc
        raw: dict[int, tuple[Rule, list[tuple[int, int, tuple[tuple[int, int], ...]]]]] = {}

        def add(rule: Rule, spans: Iterable[tuple[int, int, tuple[tuple[int, int], ...]]]) -> None:
            spans = list(spans)
            if spans:
                raw.setdefault(id(rule), (rule, []))[1].extend(spans)

        seen: set[int] = set()
        where = doc.index
        for k in where:
            for rule, tp in self._by_key.get(k, ()):
                if id(tp) in seen:
                    continue
                seen.add(id(tp))
                spans = tp.find(doc)
                if spans:
                    add(rule, ((s, e, ()) for s, e in spans))
        for rule, tp in self._token_always:
            add(rule, ((s, e, ()) for s, e in tp.find(doc)))
        folded = doc.folded
        for i in range(len(doc.words)):
            two = folded.at(i, 2)
            # Patterns are filed under their first two kana (one, for a one-kana reading).
            for key in (two, two[:1]) if len(two) == 2 else (two,):
                for rule, rp in self._by_kana.get(key, ()):
                    spans = rp.find_at(doc, i)
                    if spans:
                        add(rule, ((s, e, ()) for s, e in spans))
        norm = doc.norm
        for rule, xp in self._regexes:
            if xp.literal is None or xp.literal in norm:
                add(rule, ((s, e, ()) for s, e in xp.find(doc)))
        if self._pii:
            finder = PiiFinder(doc)
            for rule, pp in self._pii:
                add(rule, pp.find_masked(finder))
        pieces = learned_on or [(0, doc, 0.0)]
        hits: list[Hit] = []
        cancelled: list[tuple[str, int]] = []  # (category, where a rule's unless let its words go)
        for rule, spans in raw.values():
            starts: list[int] = []
            hits.extend(rule.hits(doc, spans, starts))
            cancelled += [(rule.category, s) for s in starts]
        if judged is not None:
            judged |= {c for c, s in cancelled if s >= pieces[0][0]}
        # A learned classifier speaks only where no written rule of its category did: a rule's
        # message names the very words, and one line should not alert twice for one thing. Nor
        # where a rule of its category found its words and its `unless` (or the quotes) judged
        # them harmless: 日本一長い商店街, 「絶対に儲かる」なんて話, お約束できません. (In the piece
        # the model reads: a rule's hit two sentences back does not silence the next sentence.)
        for at, tail, margin in pieces if self._models else ():
            until = at + len(tail.text)
            # Where a written rule of a pack it names fired on words the model reads as clean
            # (元本保証の商品をご希望でしたら: a product named, not promised), that rule gives way.
            for rule, mp in self._models:
                gone = [
                    h
                    for h in hits
                    if h.category == rule.category and h.pack in rule.overrules and at <= h.start < until
                ]
                if gone and mp.classifier.clears(tail, rule.category):
                    hits = [h for h in hits if not any(h is g for g in gone)]
                    if overruled is not None:
                        overruled += gone
            found = {h.category for h in hits if h.end > at and h.start < until}
            found |= {c for c, s in cancelled if at <= s < until}
            for rule, mp in self._models:
                if rule.category not in found:
                    spans = [(s, e, ()) for s, e in mp.find(tail, margin)]
                    hits.extend(replace(h, start=h.start + at, end=h.end + at) for h in rule.hits(tail, spans))
        hits.sort(key=lambda h: (h.start, -SEVERITY_RANK[h.severity], h.rule_id))
        return hits


# --------------------------------------------------------------------------- required phrases


@dataclass(frozen=True, slots=True)
class Missing:
    """A required phrase that was not said in time."""

    rule: Rule
    deadline: float  # audio seconds; inf when the phrase was due before the call ended
    at: float  # audio time at which the miss became certain


class RequiredPhrases:
    """Per-call state of the phrases a call must contain.

    Feed it the agent's committed text with audio times; it reports each phrase once, when its
    deadline has passed (or, at `finish`, when the call ended) without the phrase being said.
    """

    def __init__(self, rules: Iterable[Rule], analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.pending = [r for r in rules if r.required]
        self.said: dict[str, float] = {}
        self.first_speech: float | None = None

    def feed(self, text_or_doc: str | Doc, audio_start: float, audio_end: float) -> list[Missing]:
        """Note one committed agent segment; return the phrases now known to be missing."""
        doc = self.analyzer.analyze(text_or_doc) if isinstance(text_or_doc, str) else text_or_doc
        if self.first_speech is None and doc.words:
            self.first_speech = audio_start
        missing = self._overdue(audio_start)
        for rule in list(self.pending):
            if rule.find(doc):
                self.said[rule.id] = audio_start
                self.pending.remove(rule)
        return missing + self._overdue(audio_end)

    def _overdue(self, now: float) -> list[Missing]:
        if self.first_speech is None:
            return []
        out = []
        for rule in list(self.pending):
            deadline = self.first_speech + (rule.required_within or 0.0)
            if now > deadline:
                out.append(Missing(rule, deadline, now))
                self.pending.remove(rule)
        return out

    def finish(self, audio_end: float) -> list[Missing]:
        """The call ended: every phrase still pending is missing (if the agent spoke at all:
        a silent recording is not a call without its notice)."""
        if self.first_speech is None:
            self.pending = []
            return []
        out = []
        for rule in self.pending:
            deadline = (self.first_speech or 0.0) + (rule.required_within or 0.0)
            out.append(Missing(rule, deadline, audio_end))
        self.pending = []
        return out
