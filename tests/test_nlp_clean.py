"""clean_text on social-media style Russian input."""

import pytest

from nlp.clean import clean_text, fix_lookalikes, fold_yo


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # HTML tags and entities (double-escaped too)
        ("Нет горячей воды<br>уже неделю &amp;quot;УК&amp;quot; молчит",
         'Нет горячей воды\nуже неделю "УК" молчит'),
        ("<p>Яма на <b>Кирова</b></p>&nbsp;опять", "Яма на Кирова\nопять"),
        # URLs, bare VK/Telegram links, e-mail
        ("Смотрите https://vk.com/wall-123_456?w=1 и t.me/kuzbass_news/77 тут",
         "Смотрите и тут"),
        ("пишите на adm@kemerovo.ru или www.kemerovo.ru", "пишите на или"),
        # VK mentions become the visible name
        ("[club123|Администрация Новокузнецка], когда уберут снег?",
         "Администрация Новокузнецка, когда уберут снег?"),
        ("[id1|Иван], спасибо", "Иван, спасибо"),
        # @handles dropped, hashtags become words (underscore and CamelCase)
        ("@kemerovo_adm ответьте! #ЖКХ_Кемерово #ДорогиКузбасса", "ответьте! ЖКХ Кемерово Дороги Кузбасса"),
        ("#новости@nvkz_online во дворе потоп", "новости во дворе потоп"),
        ("Снова #ЯмаНаДороге, #мусор!", "Снова Яма На Дороге, мусор!"),
        ("#отопление#холодно#Кемерово", "отопление холодно Кемерово"),
        ("[id1|Анна][id2|Олег], спасибо", "Анна Олег, спасибо"),
        ("[https://vk.com/topic-1_2|обсуждение] тут", "обсуждение тут"),
        # emoji and pictographs
        ("Опять нет света 😡😡👎🏻 ⚡️", "Опять нет света"),
        # repeated letters collapsed, real doubles kept, Roman numerals kept
        ("Ооочень холоднооо в квартире!!!", "Очень холодно в квартире!"),
        ("ванна, Россия, касса, XXI век", "ванна, Россия, касса, XXI век"),
        # Latin look-alikes inside Cyrillic words
        ("мусoр не вывoзят", "мусор не вывозят"),
        ("ТЦ Mega и Wi-Fi в автобусе", "ТЦ Mega и Wi-Fi в автобусе"),
        # whitespace
        ("  много\t\tпробелов \u00a0 и\n\n\nстрок  ", "много пробелов и\nстрок"),
        ("уда\u0301рение и мяг\u00adкий перенос", "ударение и мягкий перенос"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_lookalike_fix_only_when_all_latin_letters_have_twins() -> None:
    assert fix_lookalikes("прoвод") == "провод"
    assert fix_lookalikes("KAMAЗ") == "КАМАЗ"
    # "z" has no Cyrillic twin: leave the word as typed
    assert fix_lookalikes("мусzр") == "мусzр"
    assert fix_lookalikes("Mega") == "Mega"


def test_yo_kept_in_text_and_folded_for_matching() -> None:
    assert clean_text("Ещё нет отопления") == "Ещё нет отопления"
    assert fold_yo("Ещё Берёзовский") == "Еще Березовский"
    assert fold_yo("ЁЖ, ёлка, ЁЁёё") == "ЕЖ, елка, ЕЕее" and fold_yo("дом") == "дом"


@pytest.mark.parametrize("raw", [None, "", "   ", "😡😡😡", "<br><br>", "&&&;;", "[|]", "#", "@", "\x00\x01", 12345])
def test_garbage_does_not_crash(raw) -> None:
    out = clean_text(raw)
    assert isinstance(out, str)
    assert "\x00" not in out and "😡" not in out
