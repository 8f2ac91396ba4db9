"""The `speech-monitor` command: parses arguments, calls the library, formats the result."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _say_problems(problems) -> None:
    # One plain line per problem (file:line: message), so editors and CI can jump to it.
    for p in problems:
        print(str(p), file=sys.stderr)


def _refused(problems) -> list:
    """The pack files refused whole (each problem names its file)."""
    return sorted({p.path for p in problems})


def _load(paths: Sequence[str] | None, verify: bool = True):
    from .rules import RuleSet

    return RuleSet.load(paths or None, verify=verify)


def cmd_rules_check(args: argparse.Namespace) -> int:
    ruleset, problems = _load(args.paths)
    _say_problems(problems)
    console = _console()
    for pack in ruleset.packs:
        console.print(f"[green]ok[/]  {pack.id} {pack.version}  {len(pack.rules)} rules  {pack.path}")
    for path in _refused(problems):
        console.print(f"[red]refused[/]  {path}")
    return EXIT_USAGE if problems else EXIT_OK


def cmd_rules_test(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .rules import verify_rule

    ruleset, problems = _load(args.paths, verify=False)
    _say_problems(problems)
    table = Table(title="rule examples")
    for col in ("pack", "rules", "examples", "failed"):
        table.add_column(col, justify="right" if col != "pack" else "left")
    failures = 0
    for pack in ruleset.packs:
        n_examples = n_failed = 0
        for rule in pack.rules:
            n_examples += len(rule.match_examples) + len(rule.no_match_examples)
            for problem in verify_rule(rule, ruleset.analyzer):
                print(f"FAIL {problem}", file=sys.stderr)
                n_failed += 1
        failures += n_failed
        style = "red" if n_failed else "green"
        table.add_row(pack.id, str(len(pack.rules)), str(n_examples), f"[{style}]{n_failed}[/]")
    refused = _refused(problems)
    for path in refused:  # a pack refused whole ran no example: say so where the counts are
        table.add_row(f"[red]refused[/] {path}", "", "", "")
    console = _console()
    console.print(table)
    total = sum(len(r.match_examples) + len(r.no_match_examples) for r in ruleset.rules)
    print(f"{total - failures} passed, {failures} failed" + (f", {len(refused)} refused" if refused else ""))
    if problems:
        return EXIT_USAGE
    return EXIT_FAIL if failures else EXIT_OK


def cmd_rules_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    ruleset, problems = _load(args.paths)
    _say_problems(problems)
    if args.json:
        for r in ruleset.rules:
            row = {
                "rule_id": r.id,
                "pack": r.pack,
                "category": r.category,
                "severity": r.severity,
                "message": r.message,
                "suggestion": r.suggestion,
                "required": r.required,
            }
            print(json.dumps(row, ensure_ascii=False))
    else:
        table = Table(title=f"{len(ruleset.rules)} rules in {len(ruleset.packs)} packs")
        for col in ("rule", "category", "severity", "message"):
            table.add_column(col, overflow="fold")
        for r in ruleset.rules:
            table.add_row(r.id, r.category, f"[{SEVERITY_STYLE[r.severity]}]{r.severity}[/]", r.message)
        _console().print(table)
    return EXIT_USAGE if problems else EXIT_OK


def _input_lines(text: Sequence[str]) -> list[str]:
    if not text or list(text) == ["-"]:
        return [line.rstrip("\r\n") for line in sys.stdin]
    return [" ".join(text)]


def cmd_rules_match(args: argparse.Namespace) -> int:
    ruleset, problems = _load(args.rules)
    _say_problems(problems)
    found = False
    console = None if args.json else _console()
    for n, line in enumerate(_input_lines(args.text), start=1):
        hits = ruleset.match(line)
        found = found or bool(hits)
        if args.json:
            row = {"line": n, "text": line, "hits": [h.to_json() for h in hits]}
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            assert console is not None
            marks = (
                ", ".join(f"[{SEVERITY_STYLE[h.severity]}]{h.rule_id}[/] «{h.matched}»" for h in hits) or "[green]ok[/]"
            )
            console.print(f"{n}: {marks}")
    if problems:
        return EXIT_USAGE
    return EXIT_FAIL if (found and args.fail_on_hit) else EXIT_OK


def cmd_rules_explain(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    ruleset, problems = _load(args.rules)
    _say_problems(problems)
    console = _console()
    for line in _input_lines(args.text):
        doc = ruleset.analyze(line)
        overruled: list = []
        hits = ruleset.match(doc, overruled=overruled)
        shown = Text(line)
        for h in sorted(hits, key=lambda h: h.severity != "critical"):
            shown.stylize(f"reverse {SEVERITY_STYLE[h.severity]}", h.start, h.end)
        console.print(shown)
        if doc.norm != line:
            console.print(Text(f"normalised: {doc.norm}", style="dim"))
        tokens = Table(box=None, pad_edge=False)
        for col in ("surface", "lemma", "reading", "pos", "cform"):
            tokens.add_column(col, style="dim" if col in ("pos", "cform") else None)
        for t in doc.tokens:
            tokens.add_row(t.surface, t.lemma, t.reading, f"{t.pos}/{t.pos2}", t.cform)
        console.print(tokens)
        console.print(Text(f"folded reading: {doc.reading}", style="dim"))
        for h in overruled:
            console.print(
                f"[dim]overruled:[/] {h.rule_id} «{h.matched}» — the learned model reads the line as clean"
                f" (its rule for {h.category} names pack {h.pack} in `overrules`)"
            )
        if not hits:
            console.print("[green]no hits[/]\n")
            continue
        table = Table(title="hits", title_justify="left")
        for col in ("rule", "severity", "matched", "message", "suggestion"):
            table.add_column(col, overflow="fold")
        for h in hits:
            table.add_row(
                h.rule_id, f"[{SEVERITY_STYLE[h.severity]}]{h.severity}[/]", h.matched, h.message, h.suggestion
            )
        console.print(table)
        console.print()
    return EXIT_USAGE if problems else EXIT_OK


def _add_model_options(p: argparse.ArgumentParser, device_flag: str = "--device") -> None:
    """--model; the model's device (--device, or --device-type where --device is the microphone);
    --compute-type; --cpu-threads."""
    p.add_argument(
        "--model",
        default=None,
        help="faster-whisper size name (downloads; needs internet) or a CTranslate2 model folder (default: the bundled base)",
    )
    p.add_argument(
        device_flag,
        dest="model_device",
        default="cpu",
        choices=["cpu", "cuda", "auto"],
        help="where the model runs (default: cpu)",
    )
    p.add_argument("--compute-type", default="int8", help="CTranslate2 compute type (default: int8)")
    p.add_argument("--cpu-threads", type=int, default=0, help="threads for the model on cpu (default: all cores)")


SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}


def cmd_replay(args: argparse.Namespace) -> int:
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .asr import ModelOptions, load_model
    from .audio import AudioError, decode_file
    from .events import to_line
    from .panel import PanelState
    from .pipeline import ReplayOptions, replay
    from .report import Collector, write_csv, write_html

    ruleset, problems = _load(args.rules)
    _say_problems(problems)
    if problems:
        return EXIT_USAGE
    json_out = None
    if args.json == "-":
        json_out = sys.stdout
    elif args.json:
        json_out = open(args.json, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    ui = _console(stderr=json_out is sys.stdout)
    collector = Collector()
    options = ReplayOptions(
        realtime=args.realtime,
        agent_channel=args.agent_channel,
        customer=args.customer,
        agent=args.agent,
    )
    model = None
    failed = 0
    started = time.monotonic()
    audio_total = 0.0
    single = len(args.files) == 1
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[audio]}"),
            TimeElapsedColumn(),
            console=ui,
            transient=True,
            disable=single,
        ) as progress:
            task = progress.add_task("replaying", total=len(args.files), audio="")
            for path in args.files:
                rec = collector.begin(Path(path).stem, path)
                t0 = time.monotonic()
                try:
                    recording = decode_file(path)
                    if model is None:
                        model = load_model(
                            ModelOptions(args.model, args.model_device, args.compute_type, args.cpu_threads)
                        )
                    panel = PanelState() if single else None
                    sinks = [collector] + ([panel] if panel else [])
                    events = replay(path, ruleset, model, options, recording=recording)
                    if panel is not None:
                        from rich.live import Live

                        with Live(panel, console=ui, refresh_per_second=8, transient=False):
                            for ev in events:
                                _emit(ev, sinks, json_out, to_line)
                    else:
                        for ev in events:
                            _emit(ev, sinks, json_out, to_line)
                    audio_total += recording.duration
                except AudioError as e:
                    failed += 1
                    rec.error = str(e)
                    print(f"speech-monitor: {e}", file=sys.stderr)
                rec.seconds = time.monotonic() - t0
                progress.update(task, advance=1, audio=f"{audio_total / 60:.1f} min of audio")
    finally:
        if json_out is not None and json_out is not sys.stdout:
            json_out.close()
    elapsed = time.monotonic() - started
    _summary(ui, collector, audio_total, elapsed)
    if args.report:
        write_html(args.report, collector.calls)
        ui.print(f"report: {args.report}")
    if args.csv:
        write_csv(args.csv, collector.calls)
        ui.print(f"summary: {args.csv}")
    if failed:
        return EXIT_FAIL
    if args.fail_on:
        worst = max((SEVERITY_ORDER[a["severity"]] for c in collector.calls for a in c.alerts), default=-1)
        if worst >= SEVERITY_ORDER[args.fail_on]:
            return EXIT_FAIL
    return EXIT_OK


def _emit(ev, sinks, json_out, to_line) -> None:
    for sink in sinks:
        sink(ev)
    if json_out is not None:
        json_out.write(to_line(ev) + "\n")
        json_out.flush()


def _summary(console, collector, audio_total: float, elapsed: float) -> None:
    from collections import Counter

    from rich.table import Table

    from .rules import CATEGORIES, SEVERITIES

    calls = collector.calls
    cats = Counter(a["category"] for c in calls for a in c.alerts)
    sevs = Counter(a["severity"] for c in calls for a in c.alerts)
    table = Table(title="replay summary", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row(
        "calls",
        f"{len(calls)}" + (f" ({sum(1 for c in calls if c.error)} failed)" if any(c.error for c in calls) else ""),
    )
    for c in CATEGORIES:
        table.add_row(f"alerts: {c}", str(cats.get(c, 0)))
    for sev in SEVERITIES:
        table.add_row(f"[{SEVERITY_STYLE[sev]}]{sev}[/]", str(sevs.get(sev, 0)))
    table.add_row("audio", f"{audio_total:.0f} s in {elapsed:.0f} s")
    table.add_row("speed", f"{audio_total / elapsed:.1f}x real time" if elapsed > 0 and audio_total else "-")
    console.print(table)


def cmd_devices(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .audio import DeviceError, input_devices

    try:
        devices = input_devices()
    except DeviceError as e:
        print(f"speech-monitor: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        for d in devices:
            print(json.dumps(d, ensure_ascii=False))
        return EXIT_OK
    if not devices:
        print("speech-monitor: no input devices (is a microphone connected, or PulseAudio running?)", file=sys.stderr)
        return EXIT_FAIL
    table = Table(title="input devices")
    for col in ("index", "name", "channels", "rate", "host API", "default"):
        table.add_column(col)
    for d in devices:
        table.add_row(
            str(d["index"]),
            d["name"],
            str(d["channels"]),
            f"{d['default_samplerate']:.0f}",
            d["hostapi"],
            "*" if d["default"] else "",
        )
    _console().print(table)
    return EXIT_OK


def cmd_live(args: argparse.Namespace) -> int:
    import threading

    from .asr import ModelOptions, load_model
    from .audio import DeviceError, MicSource
    from .events import to_line
    from .panel import PanelState
    from .pipeline import LiveMonitor, LiveOptions, MonitorOptions

    ruleset, problems = _load(args.rules)
    _say_problems(problems)
    if problems:
        return EXIT_USAGE
    source = MicSource(args.device)
    try:
        source.open()
    except DeviceError as e:
        print(f"speech-monitor: {e}", file=sys.stderr)
        return EXIT_USAGE
    json_out = sys.stdout if args.json == "-" else (open(args.json, "w", encoding="utf-8") if args.json else None)  # noqa: SIM115
    ui = _console(stderr=json_out is sys.stdout)
    try:
        model = load_model(ModelOptions(args.model, args.model_device, args.compute_type, args.cpu_threads))
        options = LiveOptions(
            agent=args.agent,
            call_gap=args.call_gap,
            duration=args.duration,
            monitor=MonitorOptions(cooldown=args.cooldown),
        )
        live = LiveMonitor(source, ruleset, model, options)
        live.status.model = f"{args.model or 'base'} {args.compute_type}"
        panel = PanelState(live=live.status)
        stop, new_call = threading.Event(), threading.Event()
        if sys.stdin.isatty() and not args.no_panel:
            threading.Thread(target=_keys, args=(stop, new_call), daemon=True).start()
        sinks = [panel]
        if args.no_panel:
            for ev in live.events(stop, new_call):
                _emit(ev, sinks, json_out, to_line)
        else:
            from rich.live import Live

            ui.print("[dim]Enter: new call · q Enter: quit · Ctrl-C: quit[/]")
            with Live(panel, console=ui, refresh_per_second=4, transient=False):
                for ev in live.events(stop, new_call):
                    _emit(ev, sinks, json_out, to_line)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        if json_out is not None and json_out is not sys.stdout:
            json_out.close()
    return EXIT_OK


def _keys(stop, new_call) -> None:
    """Enter starts a new call; q quits (the terminal's line mode: no raw keys needed)."""
    for line in sys.stdin:
        if line.strip().lower() == "q":
            stop.set()
            return
        new_call.set()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="speech-monitor",
        description="Real-time compliance monitor for Japanese call centres.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    rules = sub.add_parser(
        "rules", help="check, test and try rule packs", description="Check, test and try rule packs."
    )
    rsub = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    rsub.required = True

    p = rsub.add_parser("check", help="compile packs; print file:line for every problem (exit 2)")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: rules/)")
    p.set_defaults(func=cmd_rules_check)

    p = rsub.add_parser("test", help="run every rule's examples (exit 1 if one fails)")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: rules/)")
    p.set_defaults(func=cmd_rules_test)

    p = rsub.add_parser("list", help="list the loaded rules")
    p.add_argument("paths", nargs="*", help="pack files or folders (default: rules/)")
    p.add_argument("--json", action="store_true", help="one JSON object per rule")
    p.set_defaults(func=cmd_rules_list)

    p = rsub.add_parser("match", help="match text: one result per input line")
    p.add_argument("text", nargs="*", help="the text; '-' or nothing reads lines from stdin")
    p.add_argument("--json", action="store_true", help='one JSON object per line: {"line", "text", "hits"}')
    p.add_argument("--rules", action="append", metavar="PATH", help="pack file or folder (repeatable; default: rules/)")
    p.add_argument("--fail-on-hit", action="store_true", help="exit 1 when any line has a hit")
    p.set_defaults(func=cmd_rules_match)

    p = sub.add_parser(
        "replay",
        help="run recorded calls through the monitor (as fast as possible, or --realtime)",
        description="Run recorded calls through the same pipeline as live monitoring, with the bundled Whisper base model.",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="recorded calls: WAV, FLAC, MP3, OGG, M4A, any rate, mono or stereo"
    )
    p.add_argument("--realtime", action="store_true", help="pace input by the audio clock, as live monitoring does")
    p.add_argument("--json", metavar="PATH|-", help="write JSON Lines events to PATH ('-': stdout)")
    p.add_argument("--report", metavar="OUT.html", help="write a self-contained HTML report")
    p.add_argument("--csv", metavar="SUMMARY.csv", help="write one summary row per call")
    p.add_argument("--rules", action="append", metavar="PATH", help="pack file or folder (repeatable; default: rules/)")
    p.add_argument(
        "--agent-channel",
        default="left",
        metavar="left|right|N",
        help="the agent's channel of a stereo recording (default: left)",
    )
    p.add_argument(
        "--customer",
        action="store_true",
        help="also transcribe the other channel, tagged customer (rules apply to the agent only)",
    )
    p.add_argument("--agent", metavar="ID", help="agent id written into every event")
    p.add_argument(
        "--fail-on",
        choices=["info", "warning", "critical"],
        help="exit 1 when an alert of this severity or higher was raised",
    )
    _add_model_options(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "live",
        help="monitor the headset microphone and warn the agent as the call goes on",
        description="Listen to an input device, transcribe as the agent speaks, and show alerts in a panel.",
    )
    p.add_argument(
        "--device", metavar="NAME|INDEX", help="input device (see: speech-monitor devices; default: the system default)"
    )
    p.add_argument("--agent", metavar="ID", help="agent id written into every event and call id")
    p.add_argument("--json", metavar="PATH|-", help="write JSON Lines events to PATH ('-': stdout)")
    p.add_argument("--rules", action="append", metavar="PATH", help="pack file or folder (repeatable; default: rules/)")
    p.add_argument(
        "--call-gap",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds without speech that end a call (default 20; 0: only Enter)",
    )
    p.add_argument(
        "--cooldown",
        type=float,
        default=10.0,
        metavar="S",
        help="the same rule does not alert again within S seconds (default 10)",
    )
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of audio")
    p.add_argument("--no-panel", action="store_true", help="no terminal panel (events only)")
    _add_model_options(p, device_flag="--device-type")
    p.set_defaults(func=cmd_live)

    p = sub.add_parser("devices", help="list audio input devices")
    p.add_argument("--json", action="store_true", help="one JSON object per device")
    p.set_defaults(func=cmd_devices)

    p = rsub.add_parser("explain", help="show tokens, readings and hits for text")
    p.add_argument("text", nargs="*", help="the text; '-' or nothing reads lines from stdin")
    p.add_argument("--rules", action="append", metavar="PATH", help="pack file or folder (repeatable; default: rules/)")
    p.set_defaults(func=cmd_rules_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except RuntimeError as e:
        # Missing optional pieces (a library, a device) raise RuntimeError with the fix in it.
        print(f"speech-monitor: {e}", file=sys.stderr)
        return EXIT_USAGE
