"""Replay of recorded calls with the real bundled model: the labelled alerts, nothing else."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from monitor.asr import BUNDLED, bundled_model_dir
from monitor.audio import AudioError, decode_file, write_wav
from monitor.pipeline import ReplayOptions, replay

from .conftest import ROOT

pytestmark = pytest.mark.model
SAMPLES = ROOT / "samples"
LABELS = sorted(SAMPLES.glob("*.labels.json"))
TOLERANCE = 0.5  # seconds: alerts must point at where the words were spoken


@pytest.fixture(scope="session")
def sample_events(model, shipped) -> dict[str, list[dict]]:
    events = {}
    for labels in LABELS:
        flac = labels.with_name(labels.name.replace(".labels.json", ".flac"))
        events[flac.stem] = list(replay(str(flac), shipped, model))
    return events


def test_there_are_samples_of_every_kind():
    labels = [json.loads(p.read_text(encoding="utf-8")) for p in LABELS]
    assert len(labels) >= 4
    expected = {c for lab in labels for line in lab["lines"] for c in line.get("expect", [])}
    expected |= {c for lab in labels for c in lab.get("expect_call", [])}
    assert expected >= {"discrimination", "abusive", "misleading", "pii", "required_phrase"}
    assert any(not lab.get("expect_call") and not any(line.get("expect") for line in lab["lines"]) for lab in labels)
    for p in SAMPLES.glob("*.flac"):
        assert p.stat().st_size < 2 * 1024 * 1024, p


@pytest.mark.parametrize("labels", LABELS, ids=lambda p: p.name.split(".")[0])
def test_sample_raises_exactly_its_labelled_alerts(sample_events, labels):
    lab = json.loads(labels.read_text(encoding="utf-8"))
    events = sample_events[lab["call_id"]]
    assert events[0]["type"] == "call_start" and events[-1]["type"] == "call_end"
    alerts = [e for e in events if e["type"] == "alert"]
    line_alerts = [a for a in alerts if a["category"] != "required_phrase"]
    expected = [(line, cat) for line in lab["lines"] if line["speaker"] == "agent" for cat in line.get("expect", [])]
    unmatched = list(line_alerts)
    for line, cat in expected:
        found = [
            a
            for a in unmatched
            if a["category"] == cat
            and a["audio_start"] >= line["start"] - TOLERANCE
            and a["audio_end"] <= line["end"] + TOLERANCE
        ]
        assert found, (
            f"no {cat} alert within {line['start']:.1f}-{line['end']:.1f} s for 「{line['text']}」: {line_alerts}"
        )
        unmatched.remove(found[0])
    # A line's `also` categories may be raised on it too (it falls under them as well), never required.
    unmatched = [
        a
        for a in unmatched
        if not any(
            a["category"] in line.get("also", [])
            and a["audio_start"] >= line["start"] - TOLERANCE
            and a["audio_end"] <= line["end"] + TOLERANCE
            for line in lab["lines"]
        )
    ]
    assert unmatched == [], f"alerts nobody expected: {unmatched}"
    required = [a for a in alerts if a["category"] == "required_phrase"]
    assert bool(required) == ("required_phrase" in lab.get("expect_call", [])), required
    end = events[-1]
    assert end["alerts"] == len(alerts)
    assert abs(end["duration"] - lab["duration"]) < 0.1


def test_segments_are_masked_and_timed(sample_events):
    for events in sample_events.values():
        for e in events:
            if e["type"] == "segment":
                assert 0 <= e["audio_start"] <= e["audio_end"]
                digits = sum(ch.isdigit() for ch in e["text"])
                assert digits < 4, e["text"]  # every number of 4+ digits is masked
            if e["type"] == "alert" and e["category"] == "pii":
                assert not any(ch.isdigit() for ch in e["text"].replace("下4桁", ""))


def test_silence_and_noise_produce_no_text(tmp_path, model, shipped):
    rng = np.random.default_rng(1)
    silence = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 8))
    noise = write_wav(tmp_path / "noise.wav", rng.standard_normal(16000 * 8) * 0.05)
    hum = write_wav(tmp_path / "hum.wav", 0.2 * np.sin(2 * np.pi * 50 * np.arange(16000 * 8) / 16000))
    for path in (silence, noise, hum):
        events = list(replay(str(path), shipped, model))
        assert [e["type"] for e in events] == ["call_start", "call_end"], (path.name, events)


def test_telephone_rate_mono_and_channels(tmp_path):
    stereo = decode_file(SAMPLES / "call-01-compliant.flac")
    assert stereo.channels.shape[0] == 2
    left = stereo.channel("left")
    assert np.abs(left).max() > 0.01
    path = write_wav(tmp_path / "tel.wav", left[::2], rate=8000)  # 8 kHz telephone audio
    mono = decode_file(path)
    assert mono.channels.shape[0] == 1
    assert abs(mono.duration - stereo.duration) < 0.1
    with pytest.raises(AudioError, match="has 1 channel, no channel right"):
        mono.channel("right")


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "empty file"),
        (b"this is not audio at all\n" * 50, "not a readable audio file"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, needle):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(AudioError, match=needle):
        decode_file(bad)


def test_truncated_file_keeps_what_decoded(tmp_path):
    src = (SAMPLES / "call-02-misleading.flac").read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(src[: len(src) // 2])
    rec = decode_file(cut)
    assert 5 < rec.duration < decode_file(SAMPLES / "call-02-misleading.flac").duration


def test_customer_channel_is_tagged_and_never_alerts(model, shipped):
    events = list(replay(str(SAMPLES / "call-03-abusive.flac"), shipped, model, ReplayOptions(customer=True)))
    customer = [e for e in events if e["type"] == "segment" and e["speaker"] == "customer"]
    assert customer
    # The customer reads out a card number in call-04: masked in the customer's segments too.
    events = list(replay(str(SAMPLES / "call-04-pii.flac"), shipped, model, ReplayOptions(customer=True)))
    customer = [e["text"] for e in events if e["type"] == "segment" and e["speaker"] == "customer"]
    assert any("*" in t for t in customer), customer
    assert all(sum(ch.isdigit() for ch in t) < 4 for t in customer), customer
    # Swapped channels: the agent's words are now the customer's, and none of their alerts remain.
    # (The learned model reads the customer's own それはもうやりましたよ as abusive, 0.93: plain casual
    # talk of few, common words is its known weak spot, README; no written rule fires.)
    agents = [e["text"] for e in replay(str(SAMPLES / "call-03-abusive.flac"), shipped, model) if e["type"] == "alert"]
    assert agents
    swapped = list(replay(str(SAMPLES / "call-03-abusive.flac"), shipped, model, ReplayOptions(agent_channel="right")))
    flagged = [e for e in swapped if e["type"] == "alert" and e["category"] in ("abusive", "discrimination")]
    assert all(e["rule_id"].startswith("learned.") for e in flagged), flagged
    assert not {e["text"] for e in flagged} & set(agents), (flagged, agents)


def test_cli_batch_goes_on_after_a_bad_file(tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "events.jsonl"
    report = tmp_path / "report.html"
    summary = tmp_path / "summary.csv"
    r = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(bad), str(SAMPLES / "call-05-no-notice.flac"),
         "--json", str(out), "--report", str(report), "--csv", str(summary), "--cpu-threads", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert f"speech-monitor: {bad}:" in r.stderr
    events = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [e["call_id"] for e in events if e["type"] == "call_end"] == ["call-05-no-notice"]
    assert all({"type", "call_id", "agent", "ts"} <= set(e) for e in events)
    html = report.read_text(encoding="utf-8")
    assert "call-05-no-notice" in html and "broken" in html and "<mark" not in html.split("call-05")[0]
    with summary.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(row["call_id"], row["status"]) for row in rows] == [("broken", "failed"), ("call-05-no-notice", "ok")]
    assert rows[1]["required_phrase"] == "1"


def test_cli_report_highlights_the_offending_words(tmp_path):
    report = tmp_path / "r.html"
    r = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(SAMPLES / "call-02-misleading.flac"), "--report", str(report),
         "--fail-on", "critical", "--cpu-threads", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert r.returncode == 1  # --fail-on critical, and the call has critical alerts
    html = report.read_text(encoding="utf-8")
    assert '<mark class="critical">' in html
    assert "→" in html and "00:" in html


def test_bad_model_path_is_a_one_line_error(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(SAMPLES / "call-02-misleading.flac"), "--model", str(tmp_path / "nope")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no such model folder" in r.stderr


def test_corrupt_cache_is_rebuilt(tmp_path):
    d = bundled_model_dir(tmp_path)
    model_bin = d / "model.bin"
    with open(model_bin, "r+b") as f:  # flip bytes in place: same size, wrong content
        f.seek(1000)
        f.write(b"\xff" * 16)
    (d / "config.json").unlink()
    again = bundled_model_dir(tmp_path)
    assert again == d
    import hashlib

    assert hashlib.sha256(model_bin.read_bytes()).hexdigest() == BUNDLED["model.bin"][0]
    assert (d / "config.json").is_file()
    assert not [p for p in d.iterdir() if p.name.startswith(".")]  # no temporary files left behind


@pytest.mark.slow
def test_realtime_replay_emits_alerts_soon_after_the_words(tmp_path, model, shipped):
    lab = json.loads((SAMPLES / "call-02-misleading.labels.json").read_text(encoding="utf-8"))
    line = next(ln for ln in lab["lines"] if "misleading" in ln.get("expect", []))
    rec = decode_file(SAMPLES / "call-02-misleading.flac")
    start = max(0.0, line["start"] - 1.0)
    piece = rec.channels[:, int(start * 16000) : int((line["end"] + 2.0) * 16000)]
    path = write_wav(tmp_path / "piece.wav", piece.T.reshape(-1), channels=2)
    events = list(replay(str(path), shipped, model, ReplayOptions(realtime=True)))
    alerts = [e for e in events if e["type"] == "alert" and e["category"] == "misleading"]
    assert alerts, events
    said_end = line["end"] - start
    # Paced by the audio clock: emitted after the words were spoken, within a few seconds.
    assert said_end - 0.5 <= alerts[0]["emitted_at"] <= said_end + 6.0
