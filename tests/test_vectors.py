import shutil

import numpy as np
import pytest

from monitor import vectors


@pytest.fixture(scope="module")
def table():
    return vectors.load()


def test_words_are_found_by_their_lemma(table):
    assert vectors.murmur64a(b"") != vectors.murmur64a(b"a")
    for word in ("馬鹿", "儲かる", "外国人", "絶対", "東京"):
        assert table.row(word) >= 0, word
    assert table.row("ありえない単語のつらなり") == -1


def test_words_of_like_meaning_lie_closer_than_unrelated_ones(table):
    def cos(a: str, b: str) -> float:
        return float(table.table[table.row(a)] @ table.table[table.row(b)])

    assert cos("馬鹿", "阿呆") > cos("馬鹿", "東京") + 0.2
    assert cos("儲かる", "稼ぐ") > cos("儲かる", "天気") + 0.2
    assert cos("外人", "外国人") > cos("外人", "電話") + 0.2


def test_a_line_is_read_by_its_content_words(table, analyzer):
    doc = analyzer.analyze("絶対に儲かりますよ")
    rows = table.words(doc)
    assert [doc.words[i].lemma for i, _ in rows] == ["絶対", "儲かる"]
    assert not table.mean([]).any()


def test_common_words_weigh_less_than_rare_ones(table):
    # In a line of それ and 馬鹿, the mean leans towards 馬鹿.
    common, rare = table.table[table.row("其れ")], table.table[table.row("馬鹿")]
    mean = table.mean([table.row("其れ"), table.row("馬鹿")])
    assert abs(float(np.linalg.norm(mean)) - 1.0) < 1e-5
    assert float(mean @ rare) > float(mean @ common) + 0.2


def test_a_damaged_table_is_refused_with_what_to_do(tmp_path):
    shutil.copytree(vectors.locate(), tmp_path / "vocab")
    blob = bytearray((tmp_path / "vocab" / "vectors").read_bytes())
    blob[-1] ^= 0xFF
    (tmp_path / "vocab" / "vectors").write_bytes(bytes(blob))
    with pytest.raises(RuntimeError, match=r"damaged.*pip install --no-deps ja-ginza==5\.3\.0"):
        vectors.WordVectors(tmp_path / "vocab")
    shutil.copy(vectors.locate() / "vectors", tmp_path / "vocab" / "vectors")
    (tmp_path / "vocab" / "key2row").unlink()
    with pytest.raises(RuntimeError, match=r"unreadable.*key2row"):
        vectors.WordVectors(tmp_path / "vocab")


def test_no_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(vectors.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match=r"ja-ginza package is not installed.*pip install --no-deps"):
        vectors.locate()
