"""The learned classifier (monitor.learned) and the pack that asks it (rules/ja-learned.yaml)."""

from __future__ import annotations

import hashlib
import json
import math
import textwrap

import pytest
import yaml

from monitor import vectors
from monitor.learned import Classifier, Slips, features, read_model, train, training_lines
from monitor.rules import RuleSet

from .conftest import ROOT

DATA = ROOT / "tests" / "data"
MODEL = ROOT / "rules" / "ja-learned.model.json.gz"
HELD_OUT = ("dev_sentences_i.yaml", "dev_sentences_j.yaml")  # never used to write or tune a rule


def sentences(name: str) -> list[dict]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["sentences"]


# The pack rule that asks the toy model (its file m.json, beside the pack)
TOY_RULE = """
- id: t.learned
  category: misleading
  severity: warning
  message: m
  suggestion: s
  model: m.json
  examples: {match: [日本一のサービスをお約束いたします, 日本一お得なプランをご用意しております], no_match: [本日はお電話ありがとうございます, ご住所の変更を承りました]}
"""


def trainer():
    """scripts/train_model.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_model", ROOT / "scripts" / "train_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def toy_model(analyzer, path) -> dict:
    """A toy model that calls every line with 日本一 misleading (threshold 0.5), written to `path`."""
    lines = [
        ("日本一のサービスをお約束いたします", "misleading"),
        ("当店は日本一お得なプランをご用意しております", "misleading"),
        ("こちらは日本一安い商品となっております", "misleading"),
        ("本日はお電話ありがとうございます", None),
        ("担当の者からご連絡いたしますのでお待ちください", None),
        ("ご住所の変更を承りました、ありがとうございます", None),
    ]
    model = train([analyzer.analyze(t) for t, _ in lines], [c for _, c in lines], min_count=1, threshold=0.5)
    path.write_text(json.dumps(model, ensure_ascii=False), encoding="utf-8")
    return model


def test_the_shipped_model_is_trained_on_the_dev_sets_as_they_are():
    model = read_model(MODEL)
    now = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted([*DATA.glob("dev_sentences*.yaml"), *DATA.glob("talk_*.yaml")])
    }
    assert model["trained_on"] == now, "dev sets changed: retrain with scripts/train_model.py"


def test_the_model_finds_what_the_rules_miss_on_sets_nobody_wrote_rules_for(written):
    # Sets I and J were written by people who saw neither the packs nor the other sets, and no
    # rule was written or tuned for them: train on everything else, then score them.
    rules = written
    train_on = [
        s for p in sorted(DATA.glob("dev_sentences*.yaml")) if p.name not in HELD_OUT for s in sentences(p.name)
    ]
    lines = training_lines(train_on, rules)
    model = Classifier(train([rules.analyze(t) for t, _ in lines], [c for _, c in lines], vectors=vectors.load()))
    caught_rules = caught_both = total = false_rules = false_both = 0
    for name in HELD_OUT:
        for s in sentences(name):
            doc = rules.analyze(s["text"])
            by_rules = {h.category for h in rules.match(doc)}
            by_model = model.found(doc)
            if s.get("category"):
                total += 1
                caught_rules += s["category"] in by_rules
                caught_both += s["category"] in by_rules | by_model
            else:
                false_rules += bool(by_rules)
                false_both += bool(by_rules | by_model)
    # Measured: recall 0.43 -> 0.71 (164 violations), clean sentences alerted 4 -> 5 of 56 (trained on
    # the 20 other sets, one threshold of 0.65; with sets A-H only it was 0.41 -> 0.66, 5 -> 7).
    assert caught_both - caught_rules >= 0.15 * total, (caught_rules, caught_both, total)
    assert false_both - false_rules <= 4, (false_rules, false_both)


def test_the_model_speaks_only_where_no_rule_of_its_category_did(shipped):
    # A rule finds this one: one alert, the rule's.
    hits = shipped.match("お客様、バカじゃないですか")
    assert [h.category for h in hits].count("abusive") == 1
    assert not any(h.rule_id.startswith("learned.") for h in hits)
    # No rule knows this phrasing; the model does, and its hit covers the words that weighed.
    text = "ご年配の方はどうせ説明しても覚えていらっしゃらないので、書類だけお送りしておきますね"
    hits = [h for h in shipped.match(text) if h.rule_id.startswith("learned.")]
    assert [h.category for h in hits] == ["discrimination"]
    assert hits[0].matched and hits[0].matched in text and hits[0].message.startswith("（学習モデル）")


def test_each_utterance_of_a_call_is_read_on_its_own(shipped):
    # Utterances said a second apart share a context (the rules see a phrase split over two
    # segments), but the model alerts once an utterance, not once a context, and a rule's hit in
    # the one before does not silence it (both lost most of its alerts in replay: 0.52 -> 0.68).
    from monitor.events import Segment
    from monitor.pipeline import CallMonitor, MonitorOptions

    monitor = CallMonitor(shipped, "c", options=MonitorOptions(required=False))
    said = [
        "いい加減にしろよ、こっちは暇じゃないんだ。",  # two written rules
        "お客様、失礼ですが、頭は大丈夫ですか、さっき申し上げたばかりですよね。",  # the model
        "それくらいのこともご存じなくて、よく今まで社会人をやってこられましたね。",  # the model again
        "外国人のお客様は、とにかくクレームが多いので、日本人の保証人がいらっしゃらない場合はお取引いたしかねます。",
    ]
    alerts, t = [], 0.0
    for text in said:
        end = t + len(text) * 0.12
        alerts += [
            (e["rule_id"], e["audio_start"] > t - 0.01)
            for e in monitor.segment(Segment(text, t, end))
            if e["type"] == "alert"
        ]
        t = end + 1.0  # less than the context gap: one context
    assert len(monitor.context) == 4
    assert [r for r, _ in alerts] == [
        "abusive.belittle.iikagen",
        "abusive.belittle.hima",
        "learned.abusive",
        "learned.abusive",
        "learned.discrimination",
    ]
    assert all(inside for _, inside in alerts), alerts  # each placed in its own sentence


def test_the_model_reads_an_utterance_whole_and_each_utterance_apart(shipped):
    # Whisper writes 。 where the speaker breathed and leaves it out between two sentences said a
    # second apart: the model reads what was said without a pause (0.8 s) as one utterance.
    from monitor.events import Segment, Word
    from monitor.pipeline import CallMonitor, MonitorOptions, _utterances

    def spoken(*utterances: str, t: float = 0.0, pause: float = 1.2) -> Segment:
        words = []
        for text in utterances:
            words += [Word(ch, t + i * 0.1, t + (i + 1) * 0.1) for i, ch in enumerate(text)]
            t = words[-1].end + pause
        return Segment("".join(utterances), words[0].start, words[-1].end, "agent", tuple(words))

    one = spoken("母子家庭です。と、どうしても返済が滞りがちですから。")
    assert _utterances(one, 0, 0.8) == [(0, len(one.text))]
    a, b = (
        "お客様、失礼ですが、頭は大丈夫ですか、さっき申し上げたばかりですよね",
        "外国人のお客様はとにかくクレームが多いので",
    )
    two = spoken(a, b)
    assert _utterances(two, 0, 0.8) == [(0, len(a)), (len(a), len(a + b))]
    assert _utterances(two, len(a) + 3, 0.8) == [(len(a), len(a + b))]  # (not one that ended before)

    monitor = CallMonitor(shipped, "c", options=MonitorOptions(required=False))
    alerts = [e for e in monitor.segment(two) if e["type"] == "alert"]
    assert [e["rule_id"] for e in alerts] == ["learned.abusive", "learned.discrimination"]
    assert alerts[0]["audio_end"] <= two.words[len(a) - 1].end < alerts[1]["audio_start"]


def test_the_model_reads_each_sentence_of_an_utterance_whisper_ran_together(shipped):
    # Two sentences said a second apart often come out of Whisper as one segment, their words
    # without a pause between them: one long utterance. A written rule's hit in the first sentence
    # silenced the model in the whole of it, and the second sentence's slip was lost.
    from monitor.events import Segment, Word
    from monitor.pipeline import _SENTENCES_FROM_WORDS, CallMonitor, MonitorOptions, _sentences

    first, second = (
        "いい加減にしろよ、こっちも忙しいんだよ、何回同じことを言わせるんだ。",
        "お客様、失礼ですが、頭は大丈夫ですか、さっき申し上げたばかりですよね",
    )
    text = first + second
    assert len(shipped.analyze(text).words) >= _SENTENCES_FROM_WORDS
    words = tuple(Word(ch, i * 0.1, (i + 1) * 0.1) for i, ch in enumerate(text))
    seg = Segment(text, 0.0, words[-1].end, "agent", words)

    def sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
        return [(a, b) for a, b, _ in _sentences(shipped.analyze(text), [(0, len(text))], offset)]

    # (then the parts that the grammar ends too: …忙しいんだよ|何回…, …ですか|さっき…)
    assert sentences(text)[:2] == [(0, len(first)), (len(first), len(text))]
    assert sentences(text, len(first) + 2)[0] == (len(first), len(text))
    assert all(b > len(first) + 2 for _, b in sentences(text, len(first) + 2))
    spaced = first[:-1] + " " + second  # Whisper's space: a pause
    assert sentences(spaced)[:2] == [(0, len(first)), (len(first), len(text))]
    # A short utterance is one thought: its sentences are each other's context (this clean line's
    # second sentence, read alone, looked abusive to a model that had not seen it).
    assert sentences("急がんでええですよ。ご家族とよう相談してから、決めてください。") == []

    def alerts(sentences: bool) -> list[tuple[str, float]]:
        monitor = CallMonitor(shipped, "c", options=MonitorOptions(required=False, sentences=sentences))
        return [(e["rule_id"], e["audio_start"]) for e in monitor.segment(seg) if e["type"] == "alert"]

    apart = alerts(True)
    # (the model fitted to the minimum also reads 何回同じことを言わせるんだ, which the written rule's
    # words do not cover, as abusive on its own: more learned alerts than one)
    assert apart[0][0] == "abusive.belittle.iikagen" and {r for r, _ in apart[1:]} == {"learned.abusive"}
    assert any(start >= words[len(first)].start for _, start in apart[1:])  # in the second sentence
    assert "learned.abusive" not in [r for r, _ in alerts(False)]


def test_the_model_reads_each_sentence_the_grammar_ends_where_whisper_wrote_no_mark(shipped):
    # Whisper often writes a run of sentences without a 。 or a space. The grammar still ends them:
    # a sentence-final particle (…んだよ) or an auxiliary's end form (…ですか) before a new phrase.
    from monitor import pipeline
    from monitor.events import Segment, Word
    from monitor.pipeline import CallMonitor, MonitorOptions, _grammar_ends, _sentences

    first, second, third = (
        "いい加減にしろよこっちも忙しいんだよ何回同じことを言わせるんだ",
        "お客様ちょっと口閉じててもらえますか",
        "さっき申し上げたばかりですよね",
    )
    text = first + second + third
    doc = shipped.analyze(text)
    # (いい加減にしろよ and こっちも忙しいんだよ, 3 and 6 words, are too short to read alone: the
    # utterance holds them; the model must be surer of a sentence only the grammar ends, since it
    # also ends one inside a garble)
    assert [(text[a:b], m) for a, b, m in _sentences(doc, [(0, len(text))], 0)] == [
        ("何回同じことを言わせるんだ", pipeline._GRAMMAR_MARGIN),
        (second, pipeline._GRAMMAR_MARGIN),
        (third, pipeline._GRAMMAR_MARGIN),
    ]
    assert pipeline._GRAMMAR_MARGIN > 0
    # A clause that goes on (…ますので, …ない決まり) is not the end of a sentence.
    going_on = "途中で解約はできない決まりになっておりますので一括でお願いしております"
    assert _grammar_ends(shipped.analyze(going_on)) == []
    assert _grammar_ends(shipped.analyze(second + third)) == [len(second)]

    words = tuple(Word(ch, i * 0.1, (i + 1) * 0.1) for i, ch in enumerate(text))
    seg = Segment(text, 0.0, words[-1].end, "agent", words)

    def alerts(sentences: bool) -> list[tuple[str, float]]:
        monitor = CallMonitor(shipped, "c", options=MonitorOptions(required=False, sentences=sentences))
        return [(e["rule_id"], e["audio_start"]) for e in monitor.segment(seg) if e["type"] == "alert"]

    apart = alerts(True)
    assert apart[0][0] == "abusive.belittle.iikagen" and {r for r, _ in apart[1:]} == {"learned.abusive"}
    assert apart[-1][1] >= words[len(first)].start  # after the written rule's sentence
    assert "learned.abusive" not in [r for r, _ in alerts(False)]


def test_the_model_overrules_a_written_rule_where_it_reads_the_utterance_as_clean(shipped, written):
    # ja-learned's rules name the packs they overrule (not pii): a product named, not promised.
    named = "元本保証の商品をご希望でしたら、こちらの定期預金か個人向け国債がございます。"
    assert [h.rule_id for h in written.match(named)] == ["misleading.principal-guarantee"]
    overruled = []
    assert shipped.match(named, overruled=overruled) == []
    assert [h.rule_id for h in overruled] == ["misleading.principal-guarantee"]
    promised = "この商品は元本保証ですので、絶対に損はいたしません"
    assert "misleading.principal-guarantee" in [h.rule_id for h in shipped.match(promised)]
    card = "カード番号は4980 2163 9417 3080ですね、ご本人様確認ありがとうございます"
    assert "pii" in {h.category for h in shipped.match(card)}

    # In a call it stays overruled when the next utterance comes (the rules still see it in the
    # context, which the model no longer reads).
    from monitor.events import Segment
    from monitor.pipeline import CallMonitor, MonitorOptions

    monitor = CallMonitor(shipped, "c", options=MonitorOptions(required=False))
    events = monitor.segment(Segment(named, 0.0, 6.0))
    events += monitor.segment(Segment("お手続きの書類は来週中にお送りいたしますので、ご確認ください。", 7.0, 11.0))
    assert len(monitor.context) == 2
    assert [e for e in events if e["type"] == "alert"] == []


def test_the_model_gives_way_where_a_rule_judged_the_words_harmless(tmp_path, write_pack, analyzer):
    # The toy model (every line with 日本一 is misleading), next to a rule that knows 日本一長い
    # (a street, not a claim) and quoted mentions: where the rule found its words and its unless (or
    # the quotes) let them go, the model must not raise them again.
    model = toy_model(analyzer, tmp_path / "m.json")
    pack = write_pack(
        textwrap.dedent(
            """
        - id: t.one
          category: misleading
          severity: warning
          message: m
          suggestion: s
          tokens: 日本 一
          unless: {tokens: 日本 一 長い}
          examples: {match: [日本一のお店, 日本一です], no_match: [日本一長い川, 日本です]}
        """
        )
        + TOY_RULE
    )
    ruleset, problems = RuleSet.load([pack], analyzer)
    assert problems == []
    assert [r.id for r in ruleset.rules] == ["t.one", "t.learned"]
    ids = lambda text: [h.rule_id for h in ruleset.match(text)]  # noqa: E731
    assert ids("日本一のサービスをお約束いたします") == ["t.one"]  # the rule speaks, the model is quiet
    assert ids("日本一お得なサービスをお約束いたしますよ") == ["t.one"]
    assert ids("駅の反対側に日本一長い商店街がございます") == []  # the unless let it go: so does the model
    assert ids("「日本一のサービス」という宣伝をする業者にはお気をつけください") == []  # a quoted mention
    assert Classifier(model).found(analyzer.analyze("駅の反対側に日本一長い商店街がございます")) == {"misleading"}


def test_a_retrained_model_is_read_again_on_reload(tmp_path, write_pack, analyzer):
    # RuleSet.reload loads changed packs again; a pack whose model file was retrained has changed
    # too, though its YAML has not.
    import os

    path = tmp_path / "m.json"
    model = toy_model(analyzer, path)
    pack = write_pack(TOY_RULE)
    ruleset, problems = RuleSet.load([pack], analyzer)
    assert problems == []
    line = "こちらの商品をご案内いたします"  # misleading 0.38 by this model
    assert ruleset.match(line) == []
    before = pack.stat()
    path.write_text(json.dumps({**model, "threshold": 0.3}, ensure_ascii=False), encoding="utf-8")
    os.utime(path, (1, 1))  # (a different stamp even within one mtime tick)
    reloaded, problems = ruleset.reload()
    assert problems == [] and pack.stat().st_mtime == before.st_mtime
    assert [h.rule_id for h in reloaded.match(line)] == ["t.learned"]
    again, _ = reloaded.reload()  # unchanged now: not compiled again
    assert again.packs[0] is reloaded.packs[0]


def test_word_vectors_carry_a_word_to_ones_of_like_meaning(analyzer):
    # Trained on 馬鹿 alone, the model with word vectors knows 阿呆 (a word it never saw) is abusive;
    # without them it can only go by the words around it.
    lines = [
        ("お前は本当に馬鹿だな", "abusive"),
        ("そんな馬鹿な話があるか", "abusive"),
        ("馬鹿は黙って聞いとけ", "abusive"),
        ("本日はお電話ありがとうございます", None),
        ("担当の者からご連絡いたしますのでお待ちください", None),
        ("ご住所の変更を承りました", None),
        ("お手続きは以上で完了です", None),
    ]
    docs, labels = [analyzer.analyze(t) for t, _ in lines], [c for _, c in lines]
    plain = Classifier(train(docs, labels, min_count=1))
    read = Classifier(train(docs, labels, min_count=1, vectors=vectors.load()))
    unseen = analyzer.analyze("あの阿呆には困ったものです")
    assert plain.scores(unseen)["abusive"] < 0.5 < 0.9 < read.scores(unseen)["abusive"]
    assert read.scores(analyzer.analyze("書類を郵送いたします"))["abusive"] < 0.1
    # and its evidence is the word, not the line
    start, end = read.find(unseen, "abusive")[0]
    assert "阿呆" in unseen.norm[start:end]


# A few lines of two categories and clean ones, for the trainer's own tests
TINY = [
    ("お前は本当に馬鹿だな", "abusive"),
    ("そんな馬鹿な話があるか", "abusive"),
    ("絶対に儲かりますので本当にご安心ください", "misleading"),
    ("絶対に損はしませんので今日中にお願いします", "misleading"),
    ("本日はお電話ありがとうございます", None),
    ("ご住所の変更を承りました、ありがとうございます", None),
]


def test_training_minimises_the_loss_of_what_the_classifier_reads(analyzer):
    # The trainer works on a sparse matrix of the features; the classifier scores a line in plain
    # Python. The loss the trainer reports is the one of the classifier's own scores, and it falls
    # with training (a line left with no feature of min_count 2 still counts).
    lines = [*TINY, ("はい", None)]
    docs, labels = [analyzer.analyze(t) for t, _ in lines], [c for _, c in lines]
    losses = []
    for iterations in (0, 20, 200):
        model = train(docs, labels, iterations=iterations, vectors=vectors.load(), clean_weight=3.0)
        read = Classifier(model)
        # each clean line weighs 3, a violation 1
        weights = [1.0 if c else 3.0 for c in labels]
        ce = -sum(
            w * math.log(read.scores(d)[c or "clean"]) for d, c, w in zip(docs, labels, weights, strict=True)
        ) / sum(weights)
        squares = sum(v * v for ws in model["weights"].values() for v in ws)
        squares += sum(v * v for ws in model["vectors"]["weights"] for v in ws)
        assert abs(ce + 0.5 * model["fit"]["l2"] * squares - model["fit"]["loss"]) < 1e-3
        losses.append(model["fit"]["loss"])
    assert losses[0] == pytest.approx(math.log(3)) and losses[0] > losses[1] > losses[2]


def test_lbfgs_goes_further_down_the_same_loss_and_the_classifier_reads_its_model(analyzer):
    # The shipped model is fitted by L-BFGS to the minimum; its reported loss is the classifier's own,
    # below what 200 steps of gradient descent reach, and its gradient is near zero.
    lines = TINY
    docs, labels = [analyzer.analyze(t) for t, _ in lines], [c for _, c in lines]
    gd = train(docs, labels, iterations=200, l2=1e-3, chars=3)
    lb = train(docs, labels, iterations=500, l2=1e-3, chars=3, solver="lbfgs")
    assert lb["fit"]["loss"] < gd["fit"]["loss"] and lb["fit"]["gradient"] < 1e-3
    assert lb["features"] == {"chars": 3} and any(k.startswith("%") for k in lb["weights"])
    read = Classifier(lb)
    ce = -sum(math.log(read.scores(d)[c or "clean"]) for d, c in zip(docs, labels, strict=True))
    squares = sum(v * v for ws in lb["weights"].values() for v in ws)
    assert abs(ce / len(docs) + 0.5 * 1e-3 * squares - lb["fit"]["loss"]) < 1e-3
    with pytest.raises(ValueError, match="no such solver"):
        train(docs, labels, solver="newton")


def test_character_runs_are_features_that_survive_a_misspelt_word(analyzer):
    # 安証番号 for 暗証番号: the tokenizer's words differ, the character runs 証番 and 証番号 do not
    said, heard = analyzer.analyze("暗証番号を教えてください"), analyzer.analyze("安証番号を教えてください")
    grams = lambda d: {k for k in features(d, chars=3) if k.startswith("%")}  # noqa: E731
    assert {"%証番", "%証番号"} <= grams(said) & grams(heard)
    assert "暗証" in {w.lemma for w in said.words} and "暗証" not in {w.lemma for w in heard.words}
    assert not any(" " in k or "、" in k for k in features(analyzer.analyze("はい、 そうです"), chars=2))


def test_a_made_up_transcript_makes_the_slips_whisper_made_at_their_rates(analyzer):
    # Whisper wrote 開薬 for 解約 every time it heard it, 口座 as 講座 one time in two, and got ご案内 right.
    pairs = [
        ("解約のご案内です", "開薬のご案内です"),
        ("解約は口座からです", "開薬は講座からです"),
        ("口座をご案内します", "口座をご案内します"),
    ]
    slips = Slips(pairs, analyzer.analyze)
    assert slips.transcript("解約したいなら") == "開薬したいなら"
    # The dice are the text's: the same line is garbled the same way in every run
    lines = [f"{n}の口座から" for n in range(200)]
    first = [slips.transcript(t) for t in lines]
    assert first == [slips.transcript(t) for t in lines]
    heard = sum("講座" in t for t in first)
    assert 70 <= heard <= 130, heard
    assert all(t.replace("講座", "口座") == line for t, line in zip(first, lines, strict=True))


def test_the_untranscribed_sentences_are_learned_as_whisper_would_write_them(written):
    # With `simulate` = 2, a sentence without a transcript is learned from its true text and two made-up
    # transcripts with the slips of the transcribed ones; one with a transcript is not made up again,
    # nor a line of ordinary talk (it has a speaker).
    transcribed = [s for s in sentences("dev_sentences_k.yaml") if s.get("asr")]
    plain = {"text": "解約のご案内ですね", "category": None}
    talk = {"text": "解約のご連絡ですね", "category": None, "speaker": "agent"}
    lines = training_lines([*transcribed, plain, talk], written, simulate=2)
    assert len(lines) == len(training_lines([*transcribed, plain, talk], written)) + 2
    slips = Slips([(s["text"], s["asr"]) for s in transcribed], written.analyze)
    for copy in (0, 1):
        made_up = slips.transcript(plain["text"], copy)
        assert "開薬" in made_up and (made_up, None) in lines, made_up  # set K's Whisper wrote 開薬 each time


def test_the_shipped_model_is_where_its_training_settled():
    # The trainer's bias once jumped between two values every step, and the model shipped depended on
    # whether the last step was even or odd (largest gradient left: 0.047). A settled model has none.
    fit = read_model(MODEL)["fit"]
    assert fit["gradient"] < 0.005, fit


def test_a_number_said_is_seen_by_its_length_and_by_the_pii_detectors(analyzer):
    # A number's lemma is its own (九千十一): the model sees how long it is and what it could be.
    lines = [
        ("カード番号は4980 1234 5678 9016ですね", "pii"),
        ("お電話番号は090 1234 5678でよろしいですね", "pii"),
        ("カード番号は下4桁、3321だけ表示されています", None),
        ("お電話番号は末尾が5502のものですね", None),
        ("本日はお電話ありがとうございます", None),
    ]
    docs, labels = [analyzer.analyze(t) for t, _ in lines], [c for _, c in lines]
    assert {"#len:14+", "#pii:card"} <= set(features(docs[0]))
    assert "#len:4" in features(docs[2]) and not any(f.startswith("#pii") for f in features(docs[2]))
    model = Classifier(train(docs, labels, min_count=1))
    read_out = model.scores(analyzer.analyze("番号は4111 1111 1111 1111です"))["pii"]
    masked = model.scores(analyzer.analyze("番号は下4桁、7781です"))["pii"]
    assert masked < 0.5 < read_out


def test_a_word_heard_in_the_wrong_kanji_still_reads_the_same(analyzer):
    # Whisper writes the right sound in the wrong kanji (開薬 for 解約, 安証 for 暗証): by its lemmas
    # the line is another line; by its reading, the same.
    lines = [
        ("解約はできません", "misleading"),
        ("途中の解約はできません", "misleading"),
        ("暗証番号を教えてください", "pii"),
        ("カードの暗証番号を教えてください", "pii"),
        ("変更はできません", None),
        ("途中の変更はできません", None),
        ("注文番号を教えてください", None),
        ("会員番号を教えてください", None),
    ]
    docs, labels = [analyzer.analyze(t) for t, _ in lines], [c for _, c in lines]
    misheard = analyzer.analyze("開薬はできません")
    assert "~カイヤ" in features(misheard, 3) and "~カイヤ" in features(docs[0], 3)
    assert not any(f.startswith("~") for f in features(misheard))
    by_lemma = Classifier(train(docs, labels, min_count=1))
    by_reading = Classifier(train(docs, labels, min_count=1, reading=3))
    assert by_reading.reading == 3 and by_lemma.reading == 0
    for text, category in (("開薬はできません", "misleading"), ("安証番号を教えてください", "pii")):
        doc = analyzer.analyze(text)
        assert by_lemma.scores(doc)[category] < 0.5 < by_reading.scores(doc)[category], text
    # The evidence a reading feature gives stands on the words that sound it
    by_reading.thresholds["misleading"] = 0.0
    doc = analyzer.analyze("途中の開薬はできません")
    ((start, end),) = by_reading.find(doc, "misleading")
    assert "開薬" in doc.norm[start:end]


def test_a_clean_line_is_left_alone(shipped):
    for text in ("本日はお電話ありがとうございます", "カード番号の下四桁でご本人確認をさせていただきます"):
        assert shipped.match(text) == [], text


def test_a_broken_model_is_one_problem_with_its_line(tmp_path, write_pack, analyzer):
    (tmp_path / "m.json").write_text('{"format": "something else"}', encoding="utf-8")
    pack = write_pack(
        """
        - id: x.learned
          category: abusive
          severity: warning
          message: m
          suggestion: s
          model: m.json
          examples: {match: [a, b], no_match: [c, d]}
        """
    )
    _, problems = RuleSet.load([pack], analyzer)
    assert len(problems) == 1 and "cannot load model 'm.json'" in problems[0].message, problems
    assert problems[0].line > 1


def test_a_truncated_compressed_model_is_one_problem_too(tmp_path, write_pack, analyzer):
    # A copy cut short (a download or a disk that filled up): gzip's own EOFError, not a traceback
    (tmp_path / "m.json.gz").write_bytes(MODEL.read_bytes()[:5000])
    pack = write_pack(
        """
        - id: x.learned
          category: abusive
          severity: warning
          message: m
          suggestion: s
          model: m.json.gz
          examples: {match: [a, b], no_match: [c, d]}
        """
    )
    _, problems = RuleSet.load([pack], analyzer)
    assert len(problems) == 1 and "cannot load model 'm.json.gz': damaged gzip file" in problems[0].message, problems


def test_a_fragment_is_no_evidence(shipped):
    # The stream commits この通話は before the rest of the recording notice: too few words to judge.
    assert shipped.match("この通話は") == []


def test_a_few_words_that_stop_on_a_particle_are_no_evidence(shipped):
    # The stream committed 暗証番号やパスワードは。 before お伺いすることは一切ございません, and
    # 耳の不自由な方には、 before 光と振動でお知らせする機器もございます: the start of a sentence.
    from monitor.learned import _unfinished

    for fragment in ("安勝番号やパスワードは。", "耳の不自由な方には、", "過去の通話記録を"):  # (Whisper: 安勝番号)
        assert _unfinished(shipped.analyze(fragment)), fragment
        assert [h for h in shipped.match(fragment) if h.rule_id.startswith("learned.")] == [], fragment
    # A whole insult ends on が; a long line on a particle is no fragment; a sentence ends otherwise.
    for whole in (
        "このボケが。",
        "そんな頭で、よく保険の契約なんてしようと思いましたね、ご家族にも。",
        "耳の不自由な方はお断りです",
    ):
        assert not _unfinished(shipped.analyze(whole)), whole


def test_the_hold_out_through_the_monitor_counts_what_the_monitor_alerts(shipped, written):
    # scripts/train_model.py --monitor: a held-out line counts as found (or a clean line as
    # alerted) when a CallMonitor with every pack alerts on it as one segment.
    from monitor.events import Segment
    from monitor.learned import Classifier
    from monitor.pipeline import CallMonitor, MonitorOptions

    train_model = trainer()
    model = Classifier.load(MODEL)
    items = [
        {"text": "この商品は元本保証ですので、絶対に損はいたしません", "category": "misleading"},
        {"text": "お手続きの書類は来週中にお送りいたしますので、ご確認ください。", "category": None},
        {"text": "元本保証の商品をご希望でしたら、こちらの定期預金か個人向け国債がございます。", "category": None},
    ]
    line_level = train_model._count(written, model, items, "text")
    through = train_model._count(written, model, items, "text", monitor=shipped)
    # n, found by the rules, by rules + model; clean, alerted by the rules, by both (the written
    # rule's hit on the named product is overruled by the model either way)
    assert line_level == through == [1, 1, 1, 2, 1, 0]
    # The monitor's packs decide: without the model nothing overrules the written rule.
    assert train_model._count(written, model, items, "text", monitor=written) == [1, 1, 1, 2, 1, 1]
    alerted = CallMonitor(shipped, "c", options=MonitorOptions(required=False)).segment(Segment(items[0]["text"], 0, 0))
    assert "misleading" in {e["category"] for e in alerted if e["type"] == "alert"}


def test_abusive_and_discrimination_are_read_together_where_the_model_splits_a_line(analyzer):
    lines = [
        ("お前は本当にバカだな", "abusive"),
        ("ふざけるなこのバカ野郎", "abusive"),
        ("バカじゃないの本当に", "abusive"),
        ("外国人の方はお断りしております", "discrimination"),
        ("外国人のお客様には貸せません", "discrimination"),
        ("外国人だからお断りです", "discrimination"),
        ("本日はお電話ありがとうございます", None),
        ("ご住所の変更を承りました", None),
    ]
    model = train([analyzer.analyze(t) for t, _ in lines], [c for _, c in lines], min_count=1, threshold=0.5)
    both = analyzer.analyze("外国人はバカだからお断りです")
    scores = Classifier(model).scores(both)
    a, d = scores["abusive"], scores["discrimination"]
    # each alone under its threshold, the two together over the pair's
    model["thresholds"] = {"abusive": a + 0.01, "discrimination": d + 0.01}
    assert Classifier(model).found(both) == set()
    model["joint"] = {"categories": ["abusive", "discrimination"], "threshold": a + d - 0.01, "least": min(a, d) - 0.01}
    assert Classifier(model).found(both) == {"abusive", "discrimination"}
    # the less likely one needs its `least`; the pair's threshold is a sum, not a licence
    model["joint"]["least"] = min(a, d) + 0.01
    assert Classifier(model).found(both) == ({"abusive"} if a > d else {"discrimination"})
    model["joint"] = {"categories": ["abusive", "discrimination"], "threshold": a + d + 0.01, "least": 0.0}
    assert Classifier(model).found(both) == set()
    assert Classifier(model).found(analyzer.analyze("ご住所の変更を承りました、ありがとうございます")) == set()


def test_the_shipped_model_reads_abusive_and_discrimination_together():
    assert read_model(MODEL)["joint"] == trainer().JOINT
