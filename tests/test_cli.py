"""The rules commands, as a user or a script calls them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from monitor.cli import build_parser, main

from .conftest import ROOT, rule_yaml


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_match_json_contract_one_object_per_line():
    lines = ["この株は絶対に儲かりますよ", "本日はお電話ありがとうございます", "カード番号は4111 1111 1111 1111ですね"]
    r = run("rules", "match", "--json", "-", stdin="\n".join(lines) + "\n")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 3]
    assert [row["text"] for row in rows] == lines
    first = rows[0]["hits"]
    assert first and set(first[0]) == {"rule_id", "pack", "category", "severity", "start", "end", "matched"}
    assert first[0]["category"] == "misleading"
    assert lines[0][first[0]["start"] : first[0]["end"]] == first[0]["matched"]
    assert rows[1]["hits"] == []
    pii = [h for h in rows[2]["hits"] if h["category"] == "pii"]
    assert pii and not re.search(r"\d", pii[0]["matched"])


def test_match_text_argument_and_fail_on_hit():
    r = run("rules", "match", "--json", "黙れ")
    assert r.returncode == 0
    [row] = [json.loads(x) for x in r.stdout.splitlines()]
    assert row["line"] == 1 and row["hits"][0]["category"] == "abusive"
    assert run("rules", "match", "--fail-on-hit", "黙れ").returncode == 1
    assert run("rules", "match", "--fail-on-hit", "承知いたしました").returncode == 0


def test_check_and_test_on_the_shipped_packs():
    r = run("rules", "check")
    assert r.returncode == 0, r.stderr
    assert "ja-pii" in r.stdout
    r = run("rules", "test")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\d+ passed, 0 failed$", r.stdout, re.M)


def one_rule_pack(path, **rule):
    """A pack file holding one rule (tests.conftest.rule_yaml with these fields changed)."""
    path.write_text(
        "pack:\n  id: p\n  name: x\n  version: 1\n  language: ja\nrules:\n"
        + "  "
        + rule_yaml(**rule).replace("\n", "\n  "),
        encoding="utf-8",
    )
    return path


def test_check_reports_file_line_and_exits_2(tmp_path):
    bad = one_rule_pack(tmp_path / "bad.yaml", severity="fatal")
    r = run("rules", "check", str(bad))
    assert r.returncode == 2
    assert f"{bad}:9: rule 't.rule': severity 'fatal' must be one of info, warning, critical" in r.stderr


def test_test_counts_a_refused_pack_and_exits_2(tmp_path):
    # A pack refused whole runs no example; the summary must not read as all passed.
    bad = one_rule_pack(tmp_path / "bad.yaml", severity="fatal")
    r = run("rules", "test", str(bad))
    assert r.returncode == 2
    assert "severity 'fatal'" in r.stderr
    assert re.search(r"^0 passed, 0 failed, 1 refused$", r.stdout, re.M)


def test_test_reports_failing_examples_and_exits_1(tmp_path):
    pack = one_rule_pack(tmp_path / "p.yaml", examples_no=("バカンス", "ばかだ"))
    r = run("rules", "test", str(pack))
    assert r.returncode == 1
    assert f"FAIL {pack}:15: rule 't.rule': example should not match" in r.stderr
    assert "3 passed, 1 failed" in r.stdout


def test_broken_pack_does_not_stop_matching_with_the_others(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: [\n", encoding="utf-8")
    r = run("rules", "match", "--json", "--rules", str(bad), "--rules", str(ROOT / "rules"), "黙れ")
    assert r.returncode == 2
    assert r.stderr.startswith(f"{bad}:")
    assert json.loads(r.stdout)["hits"]


def test_explain_and_list(capsys):
    assert main(["rules", "explain", "絶対に儲かりますよ"]) == 0
    out = capsys.readouterr().out
    assert "儲かる" in out and "misleading" in out
    # A rule the learned model overrules is shown as such, not silently gone.
    assert main(["rules", "explain", "元本保証の商品をご希望でしたら、こちらの定期預金か個人向け国債がございます"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "overruled: misleading.principal-guarantee «元本保証»" in out and "no hits" in out
    assert main(["rules", "list", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["pack"] for r in rows} >= {"ja-pii", "ja-required"}


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if getattr(a, "choices", None) and a.dest.endswith("_command")]
        if nested:
            for action in nested[0].choices:
                assert f"speech-monitor {name} {action}" in readme, f"{name} {action} missing from README"
        else:
            assert f"speech-monitor {name}" in readme, f"{name} missing from README"
