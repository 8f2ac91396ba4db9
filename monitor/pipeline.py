"""The pipeline: audio → committed segments → rules → events. Live and replay share it.

`CallMonitor` turns one call's committed segments into JSON Lines events. `replay` runs a recorded
file through transcription and a `CallMonitor`, as fast as possible or paced by the audio clock.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .asr import StreamingTranscriber, TranscribeOptions, transcribe_recording
from .audio import SAMPLE_RATE, AudioError, Recording, decode_file
from .events import Alert, Segment, Word, event
from .redact import mask_numbers
from .rules import SEVERITIES, Hit, RequiredPhrases, RuleSet
from .text import Doc

_CAUGHT_UP = 0.25  # seconds of audio waiting below which the live loop has time for a second look
_CLAUSE_END = re.compile(r"[、。，,？！?!\s]$")
_SENTENCE_SPLIT = re.compile(r"(?<=[。？！?!\s])")
_GRAMMAR_MIN_WORDS = 7  # the fewest words of a sentence that only the grammar ends (see _sentences)
_GRAMMAR_MARGIN = 0.1  # how much surer the learned model must be there than its threshold
# The fewest words of an utterance whose sentences the model also reads one by one (see _sentences)
_SENTENCES_FROM_WORDS = 35
_PHRASE_STARTS = frozenset(
    {"名詞", "代名詞", "副詞", "連体詞", "感動詞", "接続詞", "接頭辞", "形状詞", "動詞", "形容詞"}
)

__all__ = ["CallMonitor", "LiveMonitor", "LiveOptions", "MonitorOptions", "ReplayOptions", "replay"]


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    """How one call's text becomes alerts."""

    context_gap: float = 1.5  # seconds of silence after which a new sentence context starts
    context_chars: int = 160  # the longest sentence context rules see
    pause: float = 0.5  # seconds between segments that end a clause (a 、 goes between them)
    cooldown: float = 0.0  # seconds before the same rule may alert again (0: every slip)
    required: bool = True  # check the packs' required phrases
    alternatives: bool = True  # also read the decoder's other hypotheses (Segment.alternatives)
    utterance_gap: float = 0.8  # seconds between two words that end an utterance (what a learned model reads)
    # a learned model also reads each sentence of a long utterance that holds several (Whisper runs
    # two sentences said a second apart into one; a rule's hit in one silenced the model in the other)
    sentences: bool = True


class CallMonitor:
    """One call: committed segments in, events out.

    Rules see the agent's current sentence as it grows (a phrase committed in two steps, 「絶対に」
    then 「儲かります」, is still one phrase); each slip is alerted once.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        call_id: str,
        agent: str | None = None,
        clock: Callable[[], float] | None = None,
        options: MonitorOptions | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.call_id = call_id
        self.agent = agent
        self.clock = clock  # None: the audio clock (emitted when the audio was there)
        self.options = options or MonitorOptions()
        self.required = RequiredPhrases(ruleset.required_rules if self.options.required else [], ruleset.analyzer)
        self.context: list[Segment] = []
        self.alerted: set[tuple[str, int]] = set()
        self.overruled: set[tuple[str, int]] = set()
        self.last_alert_at: dict[str, float] = {}
        self.alerts: list[Alert] = []
        self.segments = 0
        self.audio_end = 0.0

    def _now(self, audio_time: float) -> float:
        return self.clock() if self.clock else audio_time

    def start(self) -> list[dict[str, Any]]:
        return [event("call_start", self.call_id, self.agent)]

    def segment(self, seg: Segment) -> list[dict[str, Any]]:
        """A committed segment: its (masked) segment event and any alerts it completes."""
        self.segments += 1
        self.audio_end = max(self.audio_end, seg.end)
        if seg.speaker != "agent":
            # No rules on the customer's words, but what they read out is masked all the same.
            return [self._segment_event(seg, self._masked(seg.text, 0, self.ruleset.match(seg.text)))]
        if self.context and (
            seg.start - self.context[-1].end > self.options.context_gap
            or sum(len(s.text) for s in self.context) > self.options.context_chars
        ):
            self.context = []
            self.alerted = set()
            self.overruled = set()
        self.context.append(seg)
        joined = self._joined()
        offset = len(joined.text) - len(seg.text)
        doc = self.ruleset.analyze(joined.text)
        # The learned model reads each utterance this segment ends, not the whole context.
        whole = (0, len(joined.text))
        pieces, readings = [whole], [(*whole, 0.0)]
        if self.ruleset.model_rule_ids:  # (no second analysis for packs without a model)
            pieces = _utterances(joined, offset, self.options.utterance_gap)
            readings = [(a, b, 0.0) for a, b in pieces]
            if self.options.sentences:
                readings += _sentences(doc, pieces, offset)
        overruled: list[Hit] = []
        hits = self.ruleset.match(
            doc,
            [(a, doc if (a, b) == whole else self.ruleset.analyze(joined.text[a:b]), m) for a, b, m in readings],
            overruled=overruled,
        )
        # A hit the model overruled stays overruled once its utterance is over (the pieces of a
        # later segment no longer hold it, and the rules still see it in the context).
        self.overruled |= {(h.rule_id, h.start) for h in overruled}
        masked = self._masked(seg.text, offset, hits)
        events = [self._segment_event(seg, masked)]
        now = self._now(seg.end)
        other = self._in_alternatives(seg, joined.text[:offset], hits) if self.options.alternatives else []
        # A learned model's guess gives way to a rule that another hypothesis reads, in its category,
        # in the utterance or sentence the model read. (Not in the whole segment: Whisper runs several
        # utterances said a second apart into one, and a rule another hypothesis read in one of them
        # silenced the model's alerts in the others: on the replay of ZZZI-ZZZK's calls the transcript
        # alone found 5 more misleading and pii utterances than the monitor with the other hypotheses.)
        learned = self.ruleset.model_rule_ids

        def gives_way(h: Hit) -> bool:
            a, b = min(
                ((a, b) for a, b, _ in readings if a <= h.start and h.end <= b),
                key=lambda r: r[1] - r[0],
                default=whole,
            )
            return any(o.category == h.category and a <= at < b for o, at, *_ in other)

        found = [(h, h.start, h.end, None) for h in hits if not (other and h.rule_id in learned and gives_way(h))]
        found += other
        for h, at, until, heard_as in found:
            # One slip, however the sentence grows after it; a learned model's evidence words move
            # as the utterance grows, so it alerts once a sentence it reads (keyed by where it starts).
            key = (h.rule_id, -1 - max(a for a, *_ in readings if a <= h.start) if h.rule_id in learned else at)
            if key in self.alerted or ((h.rule_id, at) in self.overruled and at < pieces[0][0]):
                continue
            self.alerted.add(key)
            alert = self._emit(h, joined, at, until, heard_as, now)
            if alert:
                events.append(alert)
        for miss in self.required.feed(doc, joined.start, seg.end):
            events.append(self._missing(miss, now))
        return events

    def revise(self, seg: Segment, audio_time: float) -> list[dict[str, Any]]:
        """A committed segment again, with other readings from a second decode of its audio
        (StreamingTranscriber.look_again): alerts for slips only those readings show, that no
        alert of the same rule already covers. `audio_time`: where the stream is now."""
        if seg.speaker != "agent" or not self.options.alternatives or not seg.alternatives:
            return []
        at = next(
            (i for i, s in enumerate(self.context) if (s.start, s.end, s.text) == (seg.start, seg.end, seg.text)), None
        )
        context = self.context[: at + 1] if at is not None else [seg]
        joined = self._joined(context)
        offset = len(joined.text) - len(seg.text)
        hits = [h for h in self.ruleset.match(joined.text) if h.end > offset]
        now = self._now(audio_time)
        events = []
        for h, start_char, end_char, heard_as in self._in_alternatives(seg, joined.text[:offset], hits):
            if any(a.rule_id == h.rule_id and a.audio_start < seg.end and a.audio_end > seg.start for a in self.alerts):
                continue
            if at is not None:  # (a segment no longer in the context has positions of its own)
                self.alerted.add((h.rule_id, start_char))
            alert = self._emit(h, joined, start_char, end_char, heard_as, now)
            if alert:
                events.append(alert)
        return events

    def _emit(
        self, h: Hit, joined: Segment, at: int, until: int, heard_as: str | None, now: float
    ) -> dict[str, Any] | None:
        """The alert for a hit at text[at:until] of the sentence, unless its rule is cooling down."""
        last = self.last_alert_at.get(h.rule_id)
        if last is not None and now - last < self.options.cooldown:
            return None
        self.last_alert_at[h.rule_id] = now
        start, end = joined.time_of(at, until)
        return self._alert(h, start, end, now, heard_as)

    def _joined(self, context: list[Segment] | None = None) -> Segment:
        """The sentence so far (or `context`) as one segment. Where the speaker paused and Whisper
        wrote no punctuation, a 、 goes between (つんぼなんですか さっきから…ますよ + おしみたいに…
        joined bare reads よおし, and the slip is lost)."""
        context = self.context if context is None else context
        text, words = "", []
        for i, s in enumerate(context):
            if i and s.start - context[i - 1].end >= self.options.pause and not _CLAUSE_END.search(text):
                text += "、"
                words.append(Word("、", context[i - 1].end, context[i - 1].end))
            text += s.text
            words.extend(s.words or (Word(s.text, s.start, s.end),))
        return Segment(text, context[0].start, context[-1].end, "agent", tuple(words))

    def _in_alternatives(self, seg: Segment, before: str, hits: list[Hit]) -> list[tuple[Hit, int, int, str]]:
        """Slips that only another hypothesis of the decoder reads (Segment.alternatives), where it
        reads differently from the transcript: (hit, its span in the transcript's sentence, the
        transcript's words there). A rule the transcript also hits in this segment is not repeated."""
        offset = len(before)
        out: list[tuple[Hit, int, int, str]] = []
        for edits in seg.alternatives:
            for h in self.ruleset.match(before + seg.reading(edits)):
                if h.end <= offset or h.rule_id in self.ruleset.model_rule_ids:
                    continue  # (a learned model reads the transcript only: its evidence is statistical)
                start, end, touches = Segment.in_text(edits, max(0, h.start - offset), h.end - offset)
                if not touches:
                    continue  # the transcript reads the same there
                # (words only the alternative has stand on the transcript's character around them)
                end = min(max(end, start + 1), len(seg.text))
                start, end = offset + min(start, end - 1), offset + end
                # One alert a rule in a segment: a reading that repeats words (Whisper does) must
                # not alert twice.
                if any(o.rule_id == h.rule_id and o.end > offset for o in hits) or any(
                    o.rule_id == h.rule_id for o, *_ in out
                ):
                    continue
                heard = (before + seg.text)[start:end]
                out.append((h, start, end, mask_numbers(heard, min_digits=1) if h.category == "pii" else heard))
        return out

    @staticmethod
    def _masked(text: str, offset: int, hits: list[Hit]) -> str:
        """The segment's text with what pii rules masked in their hits, and every long number."""
        chars = list(text)
        for h in hits:
            if h.category != "pii":
                continue
            for i in range(max(h.start, offset), min(h.end, offset + len(text))):
                chars[i - offset] = h.matched[i - h.start]
        return mask_numbers("".join(chars))

    def _segment_event(self, seg: Segment, text: str) -> dict[str, Any]:
        return event(
            "segment",
            self.call_id,
            self.agent,
            speaker=seg.speaker,
            text=text,
            audio_start=round(seg.start, 2),
            audio_end=round(seg.end, 2),
        )

    def _alert(self, h: Hit, start: float, end: float, now: float, heard_as: str | None = None) -> dict[str, Any]:
        alert = Alert(
            h.rule_id, h.pack, h.category, h.severity, h.message, h.suggestion, h.matched, start, end, now, heard_as
        )
        self.alerts.append(alert)
        return alert.to_event(self.call_id, self.agent)

    def _missing(self, miss, now: float) -> dict[str, Any]:
        rule = miss.rule
        at = miss.deadline if miss.deadline != float("inf") else miss.at
        alert = Alert(rule.id, rule.pack, rule.category, rule.severity, rule.message, rule.suggestion, "", at, at, now)
        self.alerts.append(alert)
        return alert.to_event(self.call_id, self.agent)

    def finish(self, audio_end: float | None = None) -> list[dict[str, Any]]:
        """The call ended: phrases never said, then `call_end` with counts."""
        end = max(self.audio_end, audio_end or 0.0)
        now = self._now(end)
        events = [self._missing(m, now) for m in self.required.finish(end)]
        by_category = Counter(a.category for a in self.alerts)
        by_severity = Counter(a.severity for a in self.alerts)
        events.append(
            event(
                "call_end",
                self.call_id,
                self.agent,
                duration=round(end, 2),
                segments=self.segments,
                alerts=len(self.alerts),
                counts=dict(sorted(by_category.items())),
                severities={s: by_severity.get(s, 0) for s in SEVERITIES},
            )
        )
        return events


def _utterances(joined: Segment, offset: int, gap: float) -> list[tuple[int, int]]:
    """What a learned model reads when a segment is committed at `offset` of the sentence so far:
    the text of each utterance that reaches into the segment, (start, end) in `joined.text`. An
    utterance ends where the speaker paused `gap` seconds or more between two words (a 。 does not
    end it: 母子家庭です。と、どうしても… is one thought; Whisper writes 。 where the speaker breathed
    and leaves it out between two sentences said 1 s apart)."""
    text, pauses, pos = joined.text, [], 0
    for i, w in enumerate(joined.words):
        if i and w.start - joined.words[i - 1].end >= gap and 0 < pos < len(text):
            pauses.append(pos)
        pos += len(w.text)
    start = max((p for p in pauses if p <= offset), default=0)
    cuts = [start, *(p for p in pauses if p > start), len(text)]
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _sentences(doc: Doc, pieces: list[tuple[int, int]], offset: int) -> list[tuple[int, int, float]]:
    """The sentences of each long piece (`_SENTENCES_FROM_WORDS` words or more: Whisper has likely
    run utterances together) that holds more than one, (start, end, margin) in `doc.text`, those
    that reach past `offset`: split after 。？！ and after a space (Whisper's mark of a pause where
    it wrote no punctuation); and split also where the grammar ends a sentence (`_grammar_ends`),
    the parts of `_GRAMMAR_MIN_WORDS` words or more (はい承りました is too little for the model to
    read alone), for which the model must be `_GRAMMAR_MARGIN` surer (the grammar also ends a
    sentence inside a garble: …ございますお気をつけておごしくらさえ).

    Replays of the dev calls (K-P, I+J: utterances a second apart, which Whisper often ran together;
    models trained without them): the model reading every utterance's punctuated sentences too
    found 558 of 656 violations instead of 537, alerting 12 of 224 clean utterances instead of 9
    (K-P in a shuffled order: 418 of 492 instead of 397, 24 of 168 clean instead of 21); with the
    grammar's sentences as well, 564 with 13 (shuffled 428 with 26). But a line on its own lost
    its context: on the grouped hold-out through the monitor (each held-out line one segment), the
    unfitted sets' clean lines alerted went from 0.68 to 1.03 per 18 (true text) and from 1.01 to
    1.52 (transcripts), for 0.003 / 0.014 more recall (「急がんでええですよ。」 read alone as
    abusive). Only utterances of 35 words or more (a dev line has 21, one in ten 30 or more): 562
    with 11, shuffled 426 with 25, and the hold-out back at 0.73 / 1.01 per 18 (0.914 / 0.848
    found); from 25 / 30 words, 0.87 / 0.75 and 1.42 / 1.15 per 18."""
    text, out = doc.text, []
    word_starts = [doc.starts[w.start] for w in doc.words]
    long = [(a, b) for a, b in pieces if sum(a <= w < b for w in word_starts) >= _SENTENCES_FROM_WORDS]
    if not long:  # (most segments: no sentence search on the hot path)
        return out
    marks = [m.start() for m in _SENTENCE_SPLIT.finditer(text)]
    ends = _grammar_ends(doc)
    taken: set[tuple[int, int]] = set()  # (a sentence both punctuation and grammar end: read once)
    for a, b in long:
        cuts = [c for c in marks if a < c < b]
        more = sorted({*cuts, *(c for c in ends if a < c < b)})
        for split, least, margin in (
            (cuts, 1, 0.0),
            (more if more != cuts else [], _GRAMMAR_MIN_WORDS, _GRAMMAR_MARGIN),
        ):
            bounds = [a, *split, b] if split else []
            for x, y in zip(bounds, bounds[1:], strict=False):
                if (
                    y > offset
                    and (x, y) not in taken
                    and text[x:y].strip()
                    and sum(x <= w < y for w in word_starts) >= least
                ):
                    taken.add((x, y))
                    out.append((x, y, margin))
    return out


def _grammar_ends(doc: Doc) -> list[int]:
    """Where the grammar ends a sentence that Whisper ran on without a mark, offsets in `doc.text`:
    after a sentence-final particle (…だよ, …ですね), an auxiliary's end form (…ます, …でした) or an
    imperative (しろ), when a new phrase (a noun, adverb, verb, …; not a particle) follows:
    いい加減にしろよ|こっちも暇じゃねえんだよ|お客様ちょっと口閉じててもらえます|今私が話してるんで…"""
    words = doc.words  # (tokens without punctuation)
    return [
        doc.ends[t.end - 1]
        for t, n in zip(words, words[1:], strict=False)
        if n.pos in _PHRASE_STARTS
        and (
            t.pos2 == "終助詞"
            or (t.pos == "助動詞" and t.cform.startswith(("終止形", "命令形")))
            or (t.pos in ("動詞", "形容詞") and t.cform.startswith("命令形"))
        )
    ]


# --------------------------------------------------------------------------- replay


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How a recorded call is replayed."""

    realtime: bool = False  # pace input by the audio clock (behaves like live)
    agent_channel: str | int = "left"  # the agent's side of a stereo recording
    customer: bool = False  # also transcribe the other channel, tagged customer
    agent: str | None = None
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    monitor: MonitorOptions = field(default_factory=MonitorOptions)


def replay(
    path: str,
    ruleset: RuleSet,
    model,
    options: ReplayOptions | None = None,
    recording: Recording | None = None,
) -> Iterator[dict[str, Any]]:
    """The events of one recorded call, lazily, in order.

    Raises:
        AudioError: the file cannot be decoded, or has no such channel (before any event).
    """
    opts = options or ReplayOptions()
    rec = recording or decode_file(path)
    call_id = _stem(path)
    agent_audio = rec.channel(opts.agent_channel)
    customer_audio = None
    if opts.customer:
        other = 1 if opts.agent_channel in ("left", 0, "0") else 0
        if rec.channels.shape[0] < 2:
            raise AudioError(f"{path}: --customer needs a stereo recording (this one is mono)")
        customer_audio = rec.channel(other)
    if opts.realtime:
        yield from _replay_paced(call_id, agent_audio, customer_audio, ruleset, model, opts)
        return
    monitor = CallMonitor(ruleset, call_id, opts.agent, None, opts.monitor)
    yield from monitor.start()
    segments = list(transcribe_recording(model, agent_audio, opts.transcribe, "agent"))
    if customer_audio is not None:
        segments += list(transcribe_recording(model, customer_audio, opts.transcribe, "customer"))
    for seg in sorted(segments, key=lambda s: (s.start, s.speaker)):
        yield from monitor.segment(seg)
    yield from monitor.finish(rec.duration)


def _replay_paced(call_id, agent_audio, customer_audio, ruleset, model, opts: ReplayOptions):
    """The audio fed at the pace it was recorded, through the live monitor: replay --realtime is
    live monitoring with a file for a microphone (emitted_at is wall time)."""
    from .audio import BufferSource

    source = BufferSource(agent_audio, paced=True, name=call_id)
    source.open()
    live = LiveMonitor(
        source,
        ruleset,
        model,
        LiveOptions(agent=opts.agent, call_gap=0, transcribe=opts.transcribe, monitor=opts.monitor),
        call_id=call_id,
    )
    # The customer's side is transcribed as fast as possible (no rules apply to it) and goes in
    # right after call_start, through the same call monitor (so it is masked and counted).
    customer = (
        list(transcribe_recording(model, customer_audio, opts.transcribe, "customer"))
        if customer_audio is not None
        else []
    )
    for ev in live.events():
        yield ev
        if ev["type"] == "call_start":
            for seg in customer:
                yield from live.monitor.segment(seg)


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem


# --------------------------------------------------------------------------- live


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """How the headset is monitored."""

    agent: str | None = None
    call_gap: float = 20.0  # seconds without speech that end a call (0: only a keypress does)
    max_backlog: float = 10.0  # seconds of audio waiting before the oldest is dropped (a gap event)
    duration: float | None = None  # stop after this many seconds of audio (None: until stopped)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    monitor: MonitorOptions = field(default_factory=lambda: MonitorOptions(cooldown=10.0))


@dataclass
class LiveStatus:
    """What the panel's status line shows; updated by the live loop."""

    device: str = ""
    model: str = ""  # e.g. "base int8" (what transcribes)
    level_db: float = -90.0
    backlog: float = 0.0
    latency: float | None = None  # of the last alert: emitted_at - audio_end
    dropped: float = 0.0
    call_id: str = ""
    tail: str = ""
    note: str = ""  # e.g. "device lost, retrying"
    reconnects: int = 0  # times the input device was reopened


class LiveMonitor:
    """Headset → streaming transcriber → call monitor, as a lazy stream of events.

    Calls are cut after `call_gap` seconds without speech or when `new_call` is set; each has its
    own id, `call_start`/`call_end` and required-phrase checks, and its own audio clock.
    """

    def __init__(
        self, source, ruleset: RuleSet, model, options: LiveOptions | None = None, call_id: str | None = None
    ) -> None:
        self.fixed_call_id = call_id  # replay --realtime: the file's stem
        self.source = source
        self.ruleset = ruleset
        self.model = model
        self.options = options or LiveOptions()
        self.status = LiveStatus(device=getattr(source, "name", ""))
        self.calls = 0

    def _start_call(self):
        self.calls += 1
        stamp = time.strftime("%Y%m%d-%H%M%S")
        call_id = self.fixed_call_id or f"{self.options.agent or 'agent'}-{stamp}-{self.calls}"
        # Monotonic time this call's audio 0 was captured; set anew as audio arrives (events()).
        self._t0 = time.monotonic() - self.source.backlog
        monitor = CallMonitor(
            self.ruleset, call_id, self.options.agent, lambda: time.monotonic() - self._t0, self.options.monitor
        )
        stream = StreamingTranscriber(self.model, self.options.transcribe, "agent")
        self.status.call_id = call_id
        self.monitor = monitor
        return monitor, stream

    def events(self, stop=None, new_call=None) -> Iterator[dict[str, Any]]:
        """Run until `stop` is set (or `duration` of audio is through); yield every event."""
        import numpy as np

        opts = self.options
        monitor, stream = self._start_call()
        yield from monitor.start()
        audio_total = 0.0
        last_block_at = time.monotonic()
        hurry = False
        while not (stop is not None and stop.is_set()):
            if opts.duration is not None and audio_total >= opts.duration:
                break
            block = self.source.read()
            if block is None:
                if self.source.ended:
                    break
                if time.monotonic() - last_block_at > 2.0 and not self.source.active:
                    # The device went away: say so, keep what was captured, try again.
                    self.status.note = "input device lost; retrying"
                    try:
                        self.source.close()
                        self.source.open()
                        self.status.reconnects += 1
                        self.status.note = "input device reopened; waiting for audio"
                        last_block_at = time.monotonic()
                    except Exception as e:  # noqa: BLE001 - any failure: retry later
                        self.status.note = f"input device lost; retrying ({e})"
                        time.sleep(1.0)
                time.sleep(0.02)
                continue
            # Take everything captured so far, so a decode always hears the latest audio (the
            # backlog left by the previous decode would otherwise add to every alert's latency).
            while self.source.backlog > 0 and (
                opts.duration is None or audio_total + len(block) / SAMPLE_RATE <= opts.duration
            ):
                more = self.source.read()
                if more is None:
                    break
                block = np.concatenate([block, more])
            last_block_at = time.monotonic()
            self.status.note = ""
            audio_total += len(block) / SAMPLE_RATE
            stream.feed(block)
            # Anchor the call's clock on when its newest audio was captured, not on when the call
            # began: a device that delivers nothing for a while (a sink with nothing playing, a
            # stalled driver, dropped audio) would otherwise count the pause into every latency.
            self._t0 = self.source.captured_at - stream.audio_end
            rms = float(np.sqrt(np.mean(block[-1600:] ** 2))) if len(block) else 0.0
            self.status.level_db = 20 * np.log10(max(rms, 1e-9))
            self.status.backlog = self.source.backlog
            if self.source.dropped > self.status.dropped:
                lost = self.source.dropped - self.status.dropped
                self.status.dropped = self.source.dropped
                yield event(
                    "gap",
                    monitor.call_id,
                    monitor.agent,
                    seconds=round(lost, 2),
                    audio_at=round(stream.audio_end, 2),
                    reason="overload",
                )
            if stream.due():
                t = time.monotonic()
                for seg in stream.step(force=hurry):
                    for ev in monitor.segment(seg):
                        if ev["type"] == "alert":
                            self.status.latency = ev["emitted_at"] - ev["audio_end"]
                        yield ev
                took = time.monotonic() - t
                # A decode slower than the step: decode again as soon as this one is done, over
                # all the audio that came meanwhile (a larger window), not on a fixed beat.
                # Only a source that runs on the wall clock can fall behind; a file read as fast as
                # possible keeps the fixed beat (and its results do not depend on the machine).
                hurry = took >= opts.transcribe.step and self.source.backlog > 0
                self.status.tail = stream.tail
            if stream.looks and self.source.backlog < _CAUGHT_UP:
                # Caught up with the audio: time for a second look at the last utterance.
                for ev in self._look_again(monitor, stream):
                    if ev["type"] == "alert":
                        self.status.latency = ev["emitted_at"] - ev["audio_end"]
                    yield ev
            silent_for = stream.audio_end - max(stream.committed_end, 0.0)
            ended = new_call is not None and new_call.is_set()
            if opts.call_gap and stream.committed_end > 0 and silent_for > opts.call_gap:
                ended = True
            if ended:
                if new_call is not None:
                    new_call.clear()
                yield from self._end_call(monitor, stream)
                monitor, stream = self._start_call()
                yield from monitor.start()
        yield from self._end_call(monitor, stream)

    @staticmethod
    def _look_again(monitor: CallMonitor, stream: StreamingTranscriber) -> Iterator[dict[str, Any]]:
        for seg in stream.look_again():
            yield from monitor.revise(seg, stream.audio_end)

    @staticmethod
    def _end_call(monitor: CallMonitor, stream: StreamingTranscriber) -> Iterator[dict[str, Any]]:
        for seg in stream.finish():
            yield from monitor.segment(seg)
        while stream.looks:
            yield from LiveMonitor._look_again(monitor, stream)
        yield from monitor.finish(stream.audio_end)
