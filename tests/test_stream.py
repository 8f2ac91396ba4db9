"""The streaming transcriber (live and replay --realtime): encoder windows, loops, commits at pauses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monitor.asr import StreamingTranscriber, TranscribeOptions, _drop_loops, _short_windows, load_model
from monitor.audio import SAMPLE_RATE, BufferSource, decode_file
from monitor.events import Word
from monitor.pipeline import LiveMonitor, LiveOptions

from .conftest import ROOT

SAMPLES = ROOT / "samples"


def words(*texts: str) -> list[Word]:
    return [Word(t, i * 0.2, i * 0.2 + 0.2) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("pieces", "kept"),
    [
        (("この", "通", "話", "は") * 4, "この通話は"),
        (("カ", "ード", "番", "号、") * 3, "カード番号、"),
        (("クッ",) * 5, "クッ"),
        (("はい", "はい"), "はいはい"),
        (("絶", "対", "に", "儲", "かります"), "絶対に儲かります"),
        (("4980", "2163", "9417", "3080"), "4980216394173080"),
    ],
)
def test_decoding_loops_are_cut_after_the_first_round(pieces, kept):
    assert "".join(w.text for w in _drop_loops(words(*pieces))) == kept


def test_encoder_windows_are_short_only_inside():
    import faster_whisper.transcribe as fwt

    load_model()  # installs the padding hook
    features = np.zeros((80, 250), dtype=np.float32)  # 2.5 s
    assert fwt.pad_or_trim(features).shape == (80, 3000)
    with _short_windows(2.0):
        assert fwt.pad_or_trim(features).shape == (80, 500)  # 2.5 s + 2 s, up to a whole second
        assert fwt.pad_or_trim(np.zeros((80, 2900), dtype=np.float32)).shape == (80, 3000)
        assert fwt.pad_or_trim(features, 1000).shape == (80, 1000)  # an explicit length is kept
    with _short_windows(window=6.2):  # a batch of utterances: every window alike, whatever its audio
        assert fwt.pad_or_trim(features).shape == (80, 700)
        assert fwt.pad_or_trim(np.zeros((80, 610), dtype=np.float32)).shape == (80, 700)
    assert fwt.pad_or_trim(features).shape == (80, 3000)


def test_utterances_a_second_apart_get_windows_of_their_own():
    """Fast replay decodes each utterance in a window of its own: speech a second apart is two
    utterances, a pause inside a sentence (0.7 s, which the VAD splits at) is not. (Silero pads its
    spans with 0.4 s: a gap measured between padded spans once needed 2.0 s of silence to split, and
    sentences said a second apart were decoded run together.)"""
    from monitor.asr import _speech_spans, _utterances

    opts = TranscribeOptions()
    audio = decode_file(str(SAMPLES / "call-03-abusive.flac")).channel(0)
    start, end = next((s, e) for s, e in _speech_spans(audio, opts) if e - s > 2.0)
    speech = audio[int((start + 0.4) * SAMPLE_RATE) : int((end - 0.4) * SAMPLE_RATE)]

    def utterances(pause: float) -> list[tuple[float, float]]:
        silence = np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32)
        joined = np.concatenate([silence, speech, silence, speech, silence])
        return _utterances(_speech_spans(joined, opts), opts.utterance_gap, opts.chunk_length)

    assert len(utterances(1.0)) == 2
    assert len(utterances(0.7)) == 1


def test_an_utterance_is_committed_whole_soon_after_its_pause(model):
    lab = json.loads((SAMPLES / "call-02-misleading.labels.json").read_text(encoding="utf-8"))
    line = next(ln for ln in lab["lines"] if "misleading" in ln.get("expect", []))
    audio = decode_file(SAMPLES / "call-02-misleading.flac").channel("left")
    piece = audio[int((line["start"] - 1.0) * SAMPLE_RATE) : int((line["end"] + 2.0) * SAMPLE_RATE)]
    said_end = line["end"] - line["start"] + 1.0
    opts = TranscribeOptions()
    stream = StreamingTranscriber(model, opts)
    commits: list[tuple[float, str]] = []  # (audio time when committed, text)
    block = SAMPLE_RATE // 10
    for i in range(0, len(piece), block):
        stream.feed(piece[i : i + block])
        commits += [(stream.audio_end, s.text) for s in stream.step()]
    commits += [(stream.audio_end, s.text) for s in stream.finish()]
    text = "".join(t for _, t in commits)
    assert "絶対" in text, commits
    # Nothing of the line is committed from a decode that heard only part of it (it is shorter
    # than agree_after), and all of it is committed within a fraction of a second of its pause.
    assert all(at >= said_end for at, _ in commits), commits
    assert max(at for at, _ in commits) <= said_end + opts.pause + 0.3, commits


def test_an_utterance_committed_from_the_greedy_decode_gets_a_second_look(model):
    audio = decode_file(SAMPLES / "call-02-misleading.flac").channel("left")[: 12 * SAMPLE_RATE]

    def run(opts: TranscribeOptions) -> tuple[StreamingTranscriber, list]:
        stream = StreamingTranscriber(model, opts)
        committed = []
        for i in range(0, len(audio), SAMPLE_RATE // 10):
            stream.feed(audio[i : i + SAMPLE_RATE // 10])
            committed += stream.step()
        return stream, committed

    # (reuse_within: the last greedy decode is always good enough to commit at the pause)
    stream, committed = run(TranscribeOptions(reuse_within=10.0))
    assert committed and 1 <= len(stream.looks) <= 2
    waiting = [seg for *_, segs in stream.looks for seg in segs]
    while stream.looks:
        for seg in stream.look_again():  # the committed segment, with the beam search's readings
            assert seg in waiting and seg.alternatives
            assert all(seg.reading(e) != seg.text for e in seg.alternatives)
    # Nothing to look at again when the pause decode is no better than the greedy one, or when off.
    for opts in (TranscribeOptions(reuse_within=10.0, pause_beam_size=1), TranscribeOptions(second_look=False)):
        stream, committed = run(opts)
        assert committed and not stream.looks


@pytest.mark.slow
def test_streaming_finds_the_labelled_alerts_of_the_samples(model, shipped):
    """Every sample's agent channel through the live loop (not paced: the results do not depend
    on the machine's speed). The streaming path hears less context than replay's batches, so one
    labelled line in all may be missed; no line may raise an alert it is not labelled with (`expect`,
    or `also`: a category the line falls under too, which the live path may raise on a piece of it)."""
    found, expected, wrong = 0, 0, []
    for labels_path in sorted(SAMPLES.glob("*.labels.json")):
        lab = json.loads(labels_path.read_text(encoding="utf-8"))
        audio = decode_file(SAMPLES / f"{lab['call_id']}.flac").channel("left")
        source = BufferSource(audio)
        source.open()
        live = LiveMonitor(source, shipped, model, LiveOptions(call_gap=0), call_id=lab["call_id"])
        alerts = [e for e in live.events() if e["type"] == "alert" and e["category"] != "required_phrase"]
        lines = [ln for ln in lab["lines"] if ln["speaker"] == "agent"]
        for a in alerts:
            line = next(
                (ln for ln in lines if ln["start"] - 0.5 < a["audio_end"] and a["audio_start"] < ln["end"] + 1.0), None
            )
            if line is None or a["category"] not in line.get("expect", []) + line.get("also", []):
                wrong.append((lab["call_id"], a["rule_id"], a["text"], a["audio_start"]))
        for ln in lines:
            for cat in ln.get("expect", []):
                expected += 1
                found += any(
                    a["category"] == cat and ln["start"] - 0.5 < a["audio_end"] and a["audio_start"] < ln["end"] + 1.0
                    for a in alerts
                )
    assert not wrong
    assert expected >= 7 and found >= expected - 1, (found, expected)
