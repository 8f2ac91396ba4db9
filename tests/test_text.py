from monitor.text import fold_reading, normalize


def test_nfkc_full_and_half_width():
    norm, starts, ends = normalize("ﾊﾞｶ　０９０")
    assert norm == "バカ090"
    # バ came from two half-width characters, so its span in the original is two long.
    assert (starts[0], ends[0]) == (0, 2)


def test_spaces_between_japanese_words_are_dropped_but_kept_between_ascii_words():
    assert normalize("絶対 に  儲かり ます")[0] == "絶対に儲かります"
    assert normalize("PIN code は")[0] == "PIN codeは"


def test_dashes_fold_to_hyphen_only_between_digits():
    assert normalize("090ー1234－5678")[0] == "090-1234-5678"
    assert normalize("メールとコーヒー")[0] == "メールとコーヒー"


def test_doc_span_maps_back_to_the_original(analyzer):
    text = "お客様、ﾊﾞｶ じゃないです"
    doc = analyzer.analyze(text)
    i = doc.norm.index("バカ")
    start, end = doc.span(i, i + 2)
    assert text[start:end] == "ﾊﾞｶ"


def test_fold_reading_unifies_long_vowel_spellings():
    assert fold_reading("もうかる") == fold_reading("モーカル") == "モーカル"
    assert fold_reading("けいさつ") == fold_reading("ケーサツ")
    assert fold_reading("くそばばあ") == "クソババー"
    # A small vowel after another row is its own sound, not a long vowel.
    assert fold_reading("ティーン") == "ティーン"
    assert fold_reading("ヂヅヲ") == "ジズオ"


def test_reading_is_folded_across_token_boundaries(analyzer):
    doc = analyzer.analyze("もうかります")
    assert doc.reading.startswith("モーカリ")
    assert doc.reading_starts[0] == 0
    assert doc.reading_starts[-1] == len(doc.reading)


def test_punctuation_is_not_a_word(analyzer):
    doc = analyzer.analyze("絶対、儲かる。")
    assert [t.surface for t in doc.words] == ["絶対", "儲かる"]
    assert len(doc.tokens) == 4


def test_loanword_lemma_loses_its_source_word(analyzer):
    doc = analyzer.analyze("カードの番号")
    assert doc.words[0].lemma == "カード"
