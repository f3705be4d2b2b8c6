"""lemmas(): clean + fast tokenize + pymorphy3 lemmas, stop words, numbers."""

import threading

import pytest

from nlp import NUM, lemmas, lemmas_batch
from nlp.morph import analyzer, is_stop_word, lemma, stop_words


def test_pipe_burst() -> None:
    assert lemmas("Трубы прорвало!") == ["труба", "прорвать"]


def test_social_post() -> None:
    post = "Ооочень холодно в квартире, УК не отвечает уже 3-й день 😡 #ЖКХ_Кемерово"
    assert lemmas(post) == ["очень", "холодно", "квартира", "ук", "не", "отвечать", "уже", NUM, "день", "жкх", "кемерово"]


def test_negations_and_complaint_words_are_kept() -> None:
    out = lemmas("Нет воды, без света, никто не приезжал, опять ничего не сделано")
    for word in ("нет", "без", "никто", "не", "опять", "ничего"):
        assert word in out


def test_stop_words_removed() -> None:
    out = lemmas("И вот я и мои соседи у нас в доме на этой улице")
    assert out == ["сосед", "дом", "улица"]


def test_stop_word_list_is_shipped_and_sane() -> None:
    words = stop_words()
    assert {"и", "в", "на", "что", "быть"} <= words
    assert not {"не", "нет", "без", "никто", "ничего", "никогда"} & words
    assert is_stop_word("Её") and not is_stop_word("вода")


def test_yo_folded_and_lowercase() -> None:
    assert lemmas("ЕЩЁ Ёлки") == lemmas("еще елки") == ["еще", "елка"]


def test_numbers_become_num_token() -> None:
    assert lemmas("дом 5, кв. 12, 1,5 метра, 20.12.2020") == ["дом", NUM, "кв", NUM, NUM, "метр", NUM]


def test_lookalikes_and_repeats_normalised_before_lemmas() -> None:
    assert lemmas("мусoр не вывoзят") == lemmas("мусор не вывозят") == ["мусор", "не", "вывозить"]


def test_batch_and_empty_input() -> None:
    assert lemmas_batch(["Трубы прорвало", "", None, "😡😡", "!!!"]) == [["труба", "прорвать"], [], [], [], []]


def test_lemma_cache_and_single_analyzer() -> None:
    assert lemma("Дворы") == "двор"
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(analyzer())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is results[0] for a in results)
    assert analyzer() is results[0]


@pytest.mark.parametrize("junk", ["\x00\x01", "12345", "____", "https://vk.com/x", "[id1|]"])
def test_garbage(junk: str) -> None:
    out = lemmas(junk)
    assert isinstance(out, list)
    assert all(isinstance(x, str) and x for x in out)


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, nlp; print(sorted(m for m in ('natasha', 'slovnet', 'pymorphy3') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
