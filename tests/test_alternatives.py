"""The decoder's other hypotheses: carried with the words, read by the rules, explained in the alert."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from monitor.asr import TranscribeOptions, _alternatives_of, _decode_alone, _revised, split_segments
from monitor.audio import decode_file
from monitor.events import Segment, Word
from monitor.panel import PanelState
from monitor.pipeline import CallMonitor, MonitorOptions
from monitor.report import Collector, write_html

from .conftest import ROOT


def test_a_reading_and_its_spans_in_the_transcript():
    seg = Segment("お客様、はかなんですか", 0, 1)
    edits = ((4, 5, "バ"),)
    assert seg.reading(edits) == "お客様、バかなんですか"
    assert Segment.in_text(edits, 4, 6) == (4, 6, True)  # バか stands on はか
    assert Segment.in_text(edits, 0, 3) == (0, 3, False)  # お客様 reads the same
    two = ((4, 5, "バカ"), (7, 8, ""))  # one character more, then one less
    assert seg.reading(two) == "お客様、バカかなですか"
    assert Segment.in_text(two, 5, 7) == (4, 6, True)  # カか stands on はか
    assert Segment.in_text(two, 8, 11) == (8, 11, True)  # ですか, right after the ん it dropped


def test_edits_travel_with_their_words_into_segments():
    words = [
        Word("お客様、", 0.0, 0.6),
        Word("はか", 0.6, 0.9, ((1, 0, "は", "バ"), (1, 1, "か", "カ"), (2, 0, "はか", "ばか"))),
        Word("なんですか。", 0.9, 1.5),
        Word("損を", 2.5, 2.8, ((3, 0, "損", "そん"),)),
        Word("しません。", 2.8, 3.2),
    ]
    first, second = split_segments(words, "agent", gap=0.8)
    assert [first.reading(e) for e in first.alternatives] == ["お客様、バカなんですか。", "お客様、ばかなんですか。"]
    assert [second.reading(e) for e in second.alternatives] == ["そんをしません。"]
    # An edit whose words were cut since (the streaming overlap removal makes new words) is dropped.
    cut = [Word("客様、", 0.1, 0.6), Word("か", 0.75, 0.9, ((1, 1, "はか", "バカ"),))]
    assert _alternatives_of(cut) == ()
    # A reading much longer than the transcript is Whisper repeating itself: dropped.
    loop = [Word("はい", 0, 0.5, ((4, 2, "", "はいはいはいはいはい"),))]
    assert _alternatives_of(loop) == ()


def segment(text: str, start: float, end: float, alternatives=()) -> Segment:
    return Segment(text, start, end, "agent", (Word(text, start, end),), tuple(alternatives))


def alerts(monitor: CallMonitor, *segments: Segment) -> list[dict]:
    return [e for s in segments for e in monitor.segment(s) if e["type"] == "alert"]


def test_a_slip_only_the_next_hypothesis_reads_is_alerted_and_explained(shipped):
    seg = segment("お客様、はかなんですか。", 10.0, 11.5, [((4, 6, "バカ"),), ((0, 1, "ご"),)])
    (alert,) = alerts(CallMonitor(shipped, "c"), seg)
    assert alert["category"] == "abusive" and alert["text"] == "バカ"
    assert alert["heard_as"] == "はか"  # what the transcript says there
    assert (alert["audio_start"], alert["audio_end"]) == (10.0, 11.5)
    # Without the other hypothesis no written rule reads it (the learned model may guess from the
    # words around it: お客様、…なんですか).
    alone = alerts(CallMonitor(shipped, "c", options=MonitorOptions(alternatives=False)), seg)
    assert all(a["rule_id"].startswith("learned.") for a in alone), alone


def test_report_and_panel_show_both_readings(shipped, tmp_path):
    seg = segment("お客様、はかなんですか。", 10.0, 11.5, [((4, 6, "バカ"),)])
    monitor = CallMonitor(shipped, "c")
    collector = Collector()
    collector.begin("c", "c.wav")
    panel = PanelState()
    for ev in [*monitor.start(), *monitor.segment(seg), *monitor.finish()]:
        collector(ev)
        panel(ev)
    write_html(tmp_path / "r.html", collector.calls)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<mark class="warning">はか</mark>' in page or '<mark class="critical">はか</mark>' in page
    assert "transcribed 「はか」; the recogniser's other reading: 「バカ」" in page
    console = Console(width=80, record=True)
    console.print(panel)
    shown = console.export_text()
    assert "「はか」 read as 「バカ」" in shown


def test_an_alternative_never_repeats_what_the_transcript_says(shipped):
    # The transcript already hits バカ; a reading that differs elsewhere (or repeats the word) adds nothing.
    seg = segment("お客様、バカなんですか。", 0, 2, [((0, 3, "お客さん"),), ((6, 6, "バカ"),)])
    found = alerts(CallMonitor(shipped, "c"), seg)
    assert [(a["rule_id"], a.get("heard_as")) for a in found] == [("abusive.insult.baka", None)]


def test_numbers_in_an_alternative_are_masked(shipped):
    seg = segment("暗証番号は771です。", 0, 3, [((7, 7, "3"),)])  # three digits are no PIN; four are
    (alert,) = alerts(CallMonitor(shipped, "c"), seg)
    assert alert["category"] == "pii" and alert["text"] == "暗証番号は****"
    assert alert["heard_as"] == "暗証番号は***"  # what the transcript says there, digits masked


def test_a_pause_between_segments_is_a_clause_boundary(shipped):
    # Joined bare, …ますよ + おしみたいに reads よおし (an interjection) and the slip is lost.
    first = segment("さっきから何度も申し上げていますよ", 0.0, 2.0)
    second = segment("おしみたいにだまっていないで", 3.0, 5.0)
    ids = [a["rule_id"] for a in alerts(CallMonitor(shipped, "c"), first, second)]
    # (the learned model may also call the exasperated さっきから何度も申し上げていますよ abusive)
    assert [i for i in ids if not i.startswith("learned.")] == ["discrimination.oshi"], ids
    # Without a pause the two are one phrase (「絶対に」 then 「儲かります」 committed in two steps).
    assert alerts(CallMonitor(shipped, "c"), segment("絶対に", 0, 1), segment("儲かります", 1.1, 2))


def test_a_rule_another_hypothesis_reads_silences_the_model_in_its_utterance_only(shipped):
    # Whisper runs utterances said a second apart into one segment. Another hypothesis reads a rule
    # in the first (はか -> バカ); the model's guess in the second still alerts.
    first, second = "お客様、はかなんですか。", "そんな頭で、よく保険の契約なんてしようと思いましたね。"
    words = (Word(first, 0.0, 2.0), Word(second, 3.2, 6.0))
    seg = Segment(first + second, 0.0, 6.0, "agent", words, (((4, 6, "バカ"),),))
    found = [(a["rule_id"], a["audio_start"]) for a in alerts(CallMonitor(shipped, "c"), seg)]
    assert ("abusive.insult.baka", 0.0) in found, found
    assert [at for rule, at in found if rule == "learned.abusive"] == [3.2], found


@pytest.mark.model
def test_a_real_decode_carries_the_other_hypotheses(model):
    audio = decode_file(ROOT / "samples/call-03-abusive.flac").channel(0)
    words = _decode_alone(model, audio, 0.0, 12.0, TranscribeOptions())
    segments = split_segments(words, "agent", 0.8)
    assert segments
    readings = [s.reading(e) for s in segments for e in s.alternatives]
    assert readings, "a beam search of 5 gave no other reading"
    assert not {r for r in readings} & {s.text for s in segments}
    none = _decode_alone(model, audio, 0.0, 12.0, TranscribeOptions(alternatives=0))
    assert [w.text for w in none] and all(not w.alts for w in none)


def test_a_second_decode_becomes_readings_of_the_committed_segments():
    committed = [segment("お客様、はかなんですか。", 0.0, 1.5), segment("ありがとうございます。", 2.0, 3.0)]
    again = [Word("お客様、バカなんですか。", 0.0, 1.5), Word("ありがとうございます", 2.0, 3.0)]
    (first,) = _revised(committed, again)  # the second reads the same, but for punctuation
    assert (first.start, first.text) == (0.0, "お客様、はかなんですか。")
    assert [first.reading(e) for e in first.alternatives] == ["お客様、バカなんですか。"]
    # The second decode's own other hypotheses are read too.
    hedged = [Word("お客様、はかなんですか。", 0.0, 1.5, ((9, 4, "はか", "ばか"),)), *again[1:]]
    (first,) = _revised(committed, hedged)
    assert [first.reading(e) for e in first.alternatives] == ["お客様、ばかなんですか。"]
    # An edit across the boundary of two segments belongs to neither; nothing new, nothing back.
    assert _revised(committed, [Word("お客様、はかなんですかありがとうございます。", 0.0, 3.0)]) == []
    assert _revised(committed, [Word("お客様、はかなんですか。ありがとうございます。", 0.0, 3.0)]) == []
    assert _revised(committed, []) == []


def test_a_second_look_alerts_what_only_it_reads_once(shipped):
    monitor = CallMonitor(shipped, "c")
    seg = segment("はかなんですか。", 10.0, 11.5)  # (with お客様 before it, the learned model alerts already)
    assert not alerts(monitor, seg)
    revised = replace(seg, alternatives=(((0, 2, "バカ"),),))
    (alert,) = [e for e in monitor.revise(revised, 12.6) if e["type"] == "alert"]
    assert (alert["category"], alert["text"], alert["heard_as"]) == ("abusive", "バカ", "はか")
    assert alert["emitted_at"] == 12.6 and 10.0 <= alert["audio_start"] < alert["audio_end"] <= 11.5
    assert monitor.revise(revised, 13.0) == []  # one alert a slip
    # A slip the first pass already alerted (here from the transcript itself) is not repeated.
    monitor = CallMonitor(shipped, "c")
    said = segment("バカなんですか。", 10.0, 11.5)
    assert alerts(monitor, said)
    assert monitor.revise(replace(said, alternatives=(((0, 2, "ばか"),),)), 12.6) == []
    # Off with the other hypotheses.
    monitor = CallMonitor(shipped, "c", options=MonitorOptions(alternatives=False))
    assert not alerts(monitor, seg) and monitor.revise(revised, 12.6) == []
