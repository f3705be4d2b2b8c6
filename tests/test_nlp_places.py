"""Gazetteer resolution of municipalities (inline gazetteer in the region-profile shape)."""

import pytest

from nlp.clean import clean_text
from nlp.ner import extract_entities
from nlp.places import Gazetteer, GazetteerError, PlaceMatch

MUNICIPALITIES = [
    {"code": "novokuznetsk", "name": "Новокузнецкий городской округ (г. Новокузнецк)", "kind": "городской округ",
     "variants": ["Новокузнецк", "новокузнецкий", "новокузнечане", "Нвкз", "Новокузня"]},
    {"code": "novokuznetsky_okrug", "name": "Новокузнецкий муниципальный округ", "kind": "муниципальный округ",
     "variants": ["Кузедеево"]},
    {"code": "kemerovo", "name": "Кемерово", "kind": "городской округ", "variants": []},
    {"code": "kemerovsky_okrug", "name": "Кемеровский муниципальный округ", "kind": "муниципальный округ",
     "variants": []},
    {"code": "belovo", "name": "Белово", "kind": "городской округ", "variants": [], "population": 71000},
    {"code": "leninsk", "name": "Ленинск-Кузнецкий", "kind": "городской округ", "variants": ["Ленинск"]},
    {"code": "mariinsky", "name": "Мариинский муниципальный округ", "kind": "муниципальный округ",
     "variants": ["Мариинск", "Мариинском"]},
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer(MUNICIPALITIES)


def resolve(gaz: Gazetteer, text: str, ner: bool = True) -> PlaceMatch | None:
    text = clean_text(text)
    return gaz.resolve(text, extract_entities(text) if ner else None)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("В Новокузнецке опять прорвало трубы", "novokuznetsk"),
        ("Из Новокузнецка не выехать, пробки", "novokuznetsk"),
        ("новокузнецкие дворы в грязи по колено", "novokuznetsk"),
        ("Нвкз, Центральный район, снова нет воды", "novokuznetsk"),
        ("#Новокузня без света", "novokuznetsk"),
        ("В Новокузнецком районе нет газа", "novokuznetsky_okrug"),
        ("в Новокузнецком муниципальном округе закрыли ФАП", "novokuznetsky_okrug"),
        ("В Кемерове яма на яме", "kemerovo"),
        ("кемеровские дороги убиты", "kemerovo"),
        ("в Кемеровском районе не чистят снег", "kemerovsky_okrug"),
        ("в Ленинске-Кузнецком отключили отопление", "leninsk"),
        ("в Белове мусор не вывозят", "belovo"),
    ],
)
def test_resolves_inflected_forms_slang_and_districts(gaz: Gazetteer, text: str, code: str) -> None:
    for ner in (True, False):
        match = resolve(gaz, text, ner)
        assert match is not None, (text, ner)
        assert match.code == code, (text, ner, match)


def test_ner_match_scores_higher_than_plain_scan(gaz: Gazetteer) -> None:
    with_ner = resolve(gaz, "В Новокузнецке прорвало трубы")
    without = resolve(gaz, "В Новокузнецке прорвало трубы", ner=False)
    assert (with_ner.how, with_ner.score) == ("ner", 1.0)
    assert without.how == "gazetteer" and without.score < with_ner.score
    assert with_ner.text == "Новокузнецке"


def test_derived_adjective_scores_lower_than_name(gaz: Gazetteer) -> None:
    assert resolve(gaz, "кемеровские дороги", ner=False).score < resolve(gaz, "дороги Кемерова", ner=False).score


def test_two_places_best_and_candidates(gaz: Gazetteer) -> None:
    text = "Ехал из Белово в Кемерово: в Кемерово дорогу так и не починили, в Кемерово всё плохо"
    match = resolve(gaz, text)
    assert match.code == "kemerovo"  # mentioned three times
    assert [c.code for c in match.candidates] == ["kemerovo", "belovo"]
    assert [c.mentions for c in match.candidates] == [3, 1]
    # without NER both are plain scan matches; repetition still decides
    plain = resolve(gaz, text, ner=False)
    assert plain.code == "kemerovo" and plain.score > plain.candidates[1].score


def test_city_and_district_of_same_name_not_confused(gaz: Gazetteer) -> None:
    match = resolve(gaz, "Новокузнецк и Новокузнецкий район опять без света")
    assert {c.code for c in match.candidates} == {"novokuznetsk", "novokuznetsky_okrug"}


def test_adjective_before_district_word_is_not_the_city(gaz: Gazetteer) -> None:
    # Гурьевск-like case: no district in this gazetteer, so nothing matches
    small = Gazetteer([{"code": "gurievsk", "name": "Гурьевск", "variants": []}])
    assert small.resolve("В Гурьевском районе нет света") is None
    assert small.resolve("в Гурьевске нет света").code == "gurievsk"
    assert small.resolve("гурьевские дороги").code == "gurievsk"


def test_streets_and_people_named_like_towns_are_ignored(gaz: Gazetteer) -> None:
    assert resolve(gaz, "Яма на ул. Кемеровская у дома 5") is None
    assert resolve(gaz, "Губернатор Белов приехал на открытие школы") is None


def test_variants_are_the_full_adjective_list(gaz: Gazetteer) -> None:
    # Мариинск lists no bare adjective: «Мариинский театр» is in St Petersburg
    assert resolve(gaz, "Сходили в Мариинский театр", ner=False) is None
    assert resolve(gaz, "В Мариинске нет воды").code == "mariinsky"


def test_no_place_and_garbage(gaz: Gazetteer) -> None:
    for text in ["Мусор не вывозят уже неделю", "", None, "😡😡", "1234 5678", "ааааа", "-" * 1000]:
        assert gaz.resolve(text) is None


def test_bad_gazetteer_data_names_the_field() -> None:
    with pytest.raises(GazetteerError, match="#1: field 'code'"):
        Gazetteer([{"code": "a", "name": "А"}, {"name": "Б"}])
    with pytest.raises(GazetteerError, match="'b': field 'variants'"):
        Gazetteer([{"code": "b", "name": "Б", "variants": "Бэ"}])


def test_public_api_exports() -> None:
    import nlp
    from nlp import ner, places

    assert nlp.Gazetteer is places.Gazetteer and nlp.PlaceMatch is places.PlaceMatch
    assert nlp.extract_entities is ner.extract_entities and nlp.Entity is ner.Entity
    with pytest.raises(AttributeError):
        nlp.no_such_name  # noqa: B018
