"""Records that flow between stages, and the JSON Lines events every sink writes (DESIGN.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["Alert", "Edit", "Segment", "Word", "event", "now_iso", "to_line"]


@dataclass(frozen=True, slots=True)
class Word:
    """A piece of recognised text with its place in the call audio (seconds)."""

    text: str
    start: float
    end: float
    # Where another of the decoder's best hypotheses reads differently, starting in this word:
    # (hypothesis, offset in this word, the text it replaces, what it reads instead).
    alts: tuple[tuple[int, int, str, str], ...] = field(default=(), repr=False, compare=False)


# An edit of a segment's text: (start, end, replacement), character offsets.
Edit = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Segment:
    """Committed text: what two decodes agreed on, or a whole decoded utterance."""

    text: str
    start: float  # seconds in the call audio
    end: float
    speaker: str = "agent"  # agent | customer
    words: tuple[Word, ...] = field(default=(), repr=False)
    # Other readings of the same audio (the decoder's next-best hypotheses), each as edits of `text`
    # in order; rules look at them too, since Whisper base often ranks the right words second.
    alternatives: tuple[tuple[Edit, ...], ...] = field(default=(), repr=False)

    def reading(self, edits: tuple[Edit, ...]) -> str:
        """The text as one alternative reads it."""
        out, pos = [], 0
        for start, end, new in edits:
            out += [self.text[pos:start], new]
            pos = end
        out.append(self.text[pos:])
        return "".join(out)

    @staticmethod
    def in_text(edits: tuple[Edit, ...], start: int, end: int) -> tuple[int, int, bool]:
        """A span of an alternative's reading: the span of `text` it stands for, and whether it
        touches one of the edits (if not, `text` says the same there)."""
        delta, touches = 0, False
        s_out = e_out = None
        for s, e, new in edits:
            r_start, r_end = s + delta, s + delta + len(new)
            if s_out is None and start < r_start:
                s_out = start - delta
            elif s_out is None and start < r_end:
                s_out = s
            if e_out is None and end <= r_start:
                e_out = end - delta
            elif e_out is None and end <= r_end:
                e_out = e
            touches = touches or (start <= r_end and end >= r_start)
            delta += len(new) - (e - s)
        s_out = start - delta if s_out is None else s_out
        e_out = end - delta if e_out is None else e_out
        return s_out, max(s_out, e_out), touches

    def time_of(self, char_start: int, char_end: int) -> tuple[float, float]:
        """Audio start/end of text[char_start:char_end], from the words that hold it."""
        if not self.words:
            return self.start, self.end
        pos = 0
        first = last = None
        for w in self.words:
            w_start, w_end = pos, pos + len(w.text)
            pos = w_end
            if w_end > char_start and w_start < char_end:
                first = first or w
                last = w
        if first is None or last is None:
            return self.start, self.end
        return first.start, last.end


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule that fired on what the agent said (or a required phrase that was not said)."""

    rule_id: str
    pack: str
    category: str
    severity: str
    message: str
    suggestion: str
    text: str  # the matched words, masked for pii
    audio_start: float
    audio_end: float
    emitted_at: float  # seconds since the stream started, by the monitor's clock
    # Set when the words were found in an alternative reading: what the transcript says there.
    heard_as: str | None = None

    def to_event(self, call_id: str, agent: str | None) -> dict[str, Any]:
        extra = {} if self.heard_as is None else {"heard_as": self.heard_as}
        return event(
            "alert",
            call_id,
            agent,
            rule_id=self.rule_id,
            pack=self.pack,
            category=self.category,
            severity=self.severity,
            message=self.message,
            suggestion=self.suggestion,
            text=self.text,
            audio_start=round(self.audio_start, 2),
            audio_end=round(self.audio_end, 2),
            emitted_at=round(self.emitted_at, 3),
            **extra,
        )


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def event(type_: str, call_id: str, agent: str | None, **fields: Any) -> dict[str, Any]:
    """One JSON Lines event: the common fields first, then the type's own."""
    return {"type": type_, "call_id": call_id, "agent": agent, "ts": now_iso(), **fields}


def to_line(ev: dict[str, Any]) -> str:
    return json.dumps(ev, ensure_ascii=False)
