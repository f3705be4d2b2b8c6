"""Named entities with natasha (models ship in the wheels; ~1 s to load)."""

import pytest

from nlp.clean import clean_text
from nlp.ner import Entity, extract_entities


def kinds(text: str) -> list[tuple[str, str, str]]:
    return [(e.kind, e.text, e.normal) for e in extract_entities(text)]


def test_city_as_loc_with_normal_form() -> None:
    found = kinds("В Новокузнецке опять прорвало трубы, во дворе по колено воды.")
    assert ("LOC", "Новокузнецке", "Новокузнецк") in found


def test_management_company_is_org() -> None:
    text = "В Новокузнецке УК Жилсервис уже неделю не вывозит мусор."
    found = extract_entities(text)
    orgs = [e for e in found if e.kind == "ORG"]
    assert [(e.text, e.normal) for e in orgs] == [("УК Жилсервис", "УК Жилсервис")]
    org = orgs[0]
    assert text[org.start:org.stop] == "УК Жилсервис"
    # the model alone calls "Жилсервис" a place; the rule replaced that span
    assert not any(e.kind == "LOC" and e.text == "Жилсервис" for e in found)


def test_quoted_org_and_inflected_company() -> None:
    found = kinds("Жалоба на управляющую компанию «Уютный дом» и ТСЖ \"Берёзка\"")
    assert ("ORG", "управляющую компанию «Уютный дом»", "Управляющая компания Уютный дом") in found
    assert ("ORG", 'ТСЖ "Берёзка"', "ТСЖ Берёзка") in found


def test_person_and_offsets_on_cleaned_post() -> None:
    text = clean_text("[id5|Сергей Цивилев], в Кемерове 😡 нет света!")
    found = extract_entities(text)
    assert any(e.kind == "PER" and "Цивилев" in e.text for e in found)
    for e in found:
        assert isinstance(e, Entity)
        assert text[e.start:e.stop] == e.text


def test_normalize_off_keeps_text() -> None:
    found = extract_entities("В Новокузнецке нет воды", normalize=False)
    assert [(e.kind, e.normal) for e in found] == [("LOC", "Новокузнецке")]


@pytest.mark.parametrize("junk", [None, "", "   ", "!!!", "😡"])
def test_empty_input_gives_nothing(junk) -> None:
    assert extract_entities(junk) == []


@pytest.mark.parametrize("junk", ["123 456", "ук не отвечает", "ааа ббб", "\x00\x01 ъъъ", "x" * 5000])
def test_garbage_does_not_crash(junk: str) -> None:
    found = extract_entities(junk)
    assert all(e.kind in ("LOC", "ORG", "PER") and junk[e.start:e.stop] == e.text for e in found)
    # a lower-case "ук" without a name is not an organisation
    assert not any(e.kind == "ORG" for e in found)
