"""Appeals mode: ``Classifier.predict(..., assume_relevant=...)`` skips the relevance
question for texts that are appeals by definition (sentences written for this test)."""

from __future__ import annotations

import pytest

from nlp.classifier.registry import load_active

APPEAL = (
    "Добрый день. Прошу разобраться: в поликлинике по ул. Садовой записаться к терапевту "
    "через Госуслуги невозможно уже месяц, талонов нет, регистратура трубку не берёт. "
    "Ранее обращался, ответа не получил. Прошу принять меры."
)
CHAT = "Вчера ездили с детьми на озеро, погода чудесная, всем хороших выходных"
NOTICE = "Уважаемые жители! В связи с плановыми работами 5 марта с 9:00 до 17:00 будет отключено электроснабжение"


@pytest.fixture(scope="module")
def clf():
    return load_active()


def test_appeals_mode_makes_every_text_relevant_with_a_topic(clf):
    plain = clf.predict([APPEAL, CHAT, NOTICE])
    forced = clf.predict([APPEAL, CHAT, NOTICE], assume_relevant=True)
    assert not plain[1].relevant and not plain[2].relevant  # the ordinary decision is unchanged
    topics = clf.topics([APPEAL, CHAT, NOTICE])
    for p, q, (sector, category) in zip(forced, plain, topics):
        assert p.relevant is True
        assert (p.sector, p.category) == (sector, category)
        assert p.urgency in ("high", "normal")
        assert p.relevance_confidence == pytest.approx(q.relevance_confidence)  # the model's own estimate is kept
        assert p.confidences["relevance"] == 1.0
        assert p.confidence == pytest.approx(p.confidences["sector"] * p.confidences["category"])
        assert p.unsure == (p.confidences["sector"] < clf.thresholds.sector or p.confidences["category"] < clf.thresholds.category)


def test_per_text_flags_touch_only_flagged_texts(clf):
    plain = clf.predict([APPEAL, CHAT])
    mixed = clf.predict([APPEAL, CHAT], assume_relevant=[False, True])
    assert mixed[0] == plain[0]
    assert mixed[1].relevant and mixed[1].sector is not None
    assert clf.predict([APPEAL, CHAT], assume_relevant=[False, False]) == plain


def test_appeals_mode_respects_the_region_sectors(clf):
    [p] = clf.predict([APPEAL], sectors=["roads", "housing"], assume_relevant=True)
    assert p.sector in ("roads", "housing")


def test_wrong_number_of_flags_is_refused(clf):
    with pytest.raises(ValueError, match="assume_relevant"):
        clf.predict([APPEAL, CHAT], assume_relevant=[True])


# --------------------------------------------------------------------------- the appeal cue

from nlp.classifier.appeal_cues import appeal_cue  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("В школе третий месяц нет учителя математики. Прошу разобраться и дать ответ.", True),
        ("Просим принять меры к перевозчику, автобус не ходит", True),
        ("Уважаемый глава района! Дорогу в деревню размыло, прошу помочь", True),
        ("Требую провести проверку управляющей компании", True),
        ("Просим водителей заранее планировать маршрут и соблюдать осторожность", False),
        ("Народ, помогите сделать домашку по истории", False),
        ("Прошу молитвенной поддержки, завтра у дочери операция", False),
        ("Вчера ездили на озеро, погода чудесная", False),
        # questions, suggestions and orders of the citizen's one-line style
        ("Хотелось бы узнать, когда планируется ремонт дороги в нашем селе", True),
        ("Подскажите, пожалуйста, когда дадут горячую воду?", True),
        ("Предлагаю перенести остановку ближе к поликлинике", True),
        ("Срочно приостановите работы по устройству пандуса, делают неправильно", True),
        ("Включите наш дом в программу капремонта", True),
        ("На каком основании вырубили деревья в сквере?", True),
        ("где праздновать Новый год? подскажите кто-нибудь", False),
        ("включите свет в комнате, я люблю тебя", False),
        ("Мэр предлагает жителям обсудить проект набережной", False),
        ("Повторно обращаюсь по ремонту дороги", False),  # an address without a request: the head decides
        ("Повторно обращаюсь по ремонту дороги. Прошу сообщить сроки", True),
        # round 6: forms of a written complaint about someone who must act
        ("Два года назад обещали построить школу в микрорайоне, но воз и ныне там", True),
        ("Ремонт подъезда начали весной, так и не закончили, рабочих нет", True),
        ("Яму во дворе до сих пор не заделали, хотя срок выполнения работ истёк", True),
        ("На моё обращение пришла отписка, вопрос не решён", True),
        ("Управляющая компания неправильно начисляет плату за отопление", True),
        ("УК взимает плату за печать квитанций, это законно?", True),
        ("Интервал движения автобусов более 40 минут, люди мёрзнут на остановке", True),
        ("Водитель маршрута 15 нахамил пассажирке и отказался брать карту", True),
        ("Маршрут 101 перестал ходить с апреля, как добираться до работы?", True),
        ("Пояс для чулок так и не сделала, продаю комплект", False),
        ("Год прошёл, а ничего не изменилось", False),
        ("Личность погибшего до сих пор не установлена", False),
        ("Водитель автобуса не справился с управлением и съехал в кювет", False),
        ("С понедельника интервал движения трамваев сократится до 5 минут", False),
        # round 7: the formal frame of a written appeal and more of its imperatives and questions
        ("ЗАЯВЛЕНИЕ. С мая у нас во дворе стоит вода после каждого дождя", True),
        ("Жалоба от 02.03.2022. Лифт в нашем доме стоит второй месяц", True),
        ("Я, Петрова Анна Сергеевна, проживаю в доме 5, сообщаю, что в подвале вода", True),
        ("Здравствуйте, к вам обращается житель дома 12 по улице Лесной", True),
        ("Мы уже обращались на ваш сайт по поводу ямы, толку никакого", True),
        ("Уже создавал одно обращение по этой остановке, ничего сделано не было", True),
        ("Нет ответа на моё обращение от 5 мая", True),
        ("Если ничего не изменится, буду вынужден обратиться в прокуратуру", True),
        ("У дома старые качели, о них можно пораниться. Предпримите меры, пожалуйста", True),
        ("Обратите, пожалуйста, внимание на овраг за школой", True),
        ("Управляющая компания не правильно считает площадь, сделайте перерасчёт", True),
        ("Какова дальнейшая судьба здания бывшего детского сада на улице Мира?", True),
        ("Недостроенный корпус стоит десять лет. Когда достроят?", True),
        ("Стадион должны были построить к сентябрю, до сих пор пустырь", True),
        ("Обещано подключение к газу в 2020 году, прошло три года", True),
        ("Обратите внимание на наш новый канал о прогулках с детьми", False),
        ("Как эскалация повлияет на обещание политика закончить войну", False),
        ("я Иванов Иван, мне 20 лет, люблю футбол", False),
        ("Уважаемые жители! Просим принять меры предосторожности и запастись водой", False),
    ],
)
def test_appeal_cue(text, expected):
    assert appeal_cue(text) is expected


def test_a_request_to_an_authority_is_never_dropped(clf):
    from dataclasses import replace

    text = "Добрый день. В нашем ФАПе полгода нет фельдшера. Прошу принять меры."
    base = clf.thresholds
    try:
        # make the relevance head say "not a problem" for everything: the cue must still catch it
        clf.thresholds = replace(base, relevant=1.01, relevant_sure=1.01, lean_relevant=1.01, irrelevant_sure=1.01,
                                 appeal_sure=1.01)
        [p, chat] = clf.predict([text, CHAT])
        assert p.relevant and p.unsure and p.sector is not None
        assert not chat.relevant
        # appeal_sure (default 0): the request makes its relevance sure, so it is routed when
        # its sector and category are sure, and goes to review only for an unsure topic
        clf.thresholds = replace(clf.thresholds, appeal_sure=0.0, sector=0.0, category=0.0)
        [p] = clf.predict([text])
        assert p.relevant and not p.unsure
        clf.thresholds = replace(clf.thresholds, sector=1.0)
        [p] = clf.predict([text])
        assert p.relevant and p.unsure
        clf.thresholds = replace(clf.thresholds, appeal_relevant=1.01)  # switched off
        [q] = clf.predict([text])
        assert not q.relevant
    finally:
        clf.thresholds = base


def test_a_notice_with_a_request_is_not_an_appeal(clf):
    from dataclasses import replace

    base = clf.thresholds
    try:
        clf.thresholds = replace(base, relevant=1.01, relevant_sure=1.01, lean_relevant=1.01, irrelevant_sure=1.01)
        notice = "Уважаемые жители! В связи с ремонтом будет отключено водоснабжение. Просим принять меры предосторожности и запастись водой."
        [p] = clf.predict([notice])
        assert not p.relevant
    finally:
        clf.thresholds = base


def test_a_request_with_a_notice_cue_goes_to_review(clf):
    """Round 7: a request to an authority that also reads like a notice («Прошу проверить… в связи
    с…») is never judged "not a problem": relevant and unsure, whatever P(relevant) says."""
    from dataclasses import replace

    from nlp.classifier.notice_cues import notice_cue

    text = ("В связи с появлением в квитанции отдельной строки за вывоз мусора прошу проверить "
            "правильность начисления платы управляющей компанией.")
    assert appeal_cue(text) and notice_cue(text, [])
    base = clf.thresholds
    try:
        for rel in (0.01, 1.01):  # the relevance head says "a problem" (the notice cue would demote it) / "not"
            clf.thresholds = replace(base, relevant=rel, relevant_sure=rel, lean_relevant=1.01, notice_relevant=1.01,
                                     sector=0.0, category=0.0)
            [p] = clf.predict([text])
            assert p.relevant and p.unsure and p.sector is not None
        clf.thresholds = replace(base, relevant=0.01, relevant_sure=0.01, notice_relevant=1.01, appeal_relevant=1.01)
        # the cue switched off: the notice wins
        [p] = clf.predict([text])
        assert not p.relevant and p.unsure
    finally:
        clf.thresholds = base


# --------------------------------------------------------------------------- real-data loaders

def test_cheboksary_catch_all_rows_teach_a_sector_only_when_unambiguous():
    from nlp.classifier.data import CHEB_CATCH_ALL, cheboksary_sector

    alts = ["roads", "transport", "waste", "ecology"]
    row = {"category": CHEB_CATCH_ALL, "sector": "improvement", "alts": alts}
    assert cheboksary_sector({**row, "text": "На остановке снесли павильон"}) == "transport"
    assert cheboksary_sector({**row, "text": "В лесу стихийная свалка"}) == "waste"
    assert cheboksary_sector({**row, "text": "Во дворе сломаны скамейки"}) == "improvement"
    assert cheboksary_sector({**row, "text": "Во дворе свалка у остановки"}) is None  # two rules: ambiguous
    assert cheboksary_sector({**row, "text": "Просим разобраться"}) is None
    # an executor that overrode the category is trusted; sectors outside ours never teach
    assert cheboksary_sector({"category": CHEB_CATCH_ALL, "sector": "roads", "alts": [], "text": "двор"}) == "roads"
    assert cheboksary_sector({"category": "Связь", "sector": "other", "alts": [], "text": "нет связи"}) is None


def test_cheboksary_rows_follow_our_sector_boundaries():
    """Yard upkeep filed under ЖКУ is improvement too (the router wants improvement); ramps are
    social and power lines energy wherever the portal filed them (config/taxonomy.yaml)."""
    from nlp.classifier.data import CHEB_CATCH_ALL, CHEB_HOUSING, cheboksary_router_alts, cheboksary_sector

    housing = {"category": CHEB_HOUSING, "sector": "housing", "alts": ["energy", "waste"]}
    yard = {**housing, "text": "Управляющая компания не убирает снег во дворе дома"}
    assert "improvement" in cheboksary_router_alts(yard) and cheboksary_sector(yard) == "improvement"
    roof = {**housing, "text": "Во дворе опасно: снег с крыши не убирают"}  # snow on a roof: housing
    assert "improvement" not in cheboksary_router_alts(roof) and cheboksary_sector(roof) == "housing"
    bill = {**housing, "text": "Неправильно начисляют плату за отопление"}
    assert cheboksary_router_alts(bill) == ["energy", "waste"] and cheboksary_sector(bill) == "housing"
    catch_all = {"category": CHEB_CATCH_ALL, "sector": "improvement", "alts": ["roads", "transport", "waste", "ecology"]}
    ramp = {**catch_all, "text": "У магазина нет пандуса для колясок"}
    assert "social" in cheboksary_router_alts(ramp) and cheboksary_sector(ramp) == "social"
    wires = {**catch_all, "text": "Над тротуаром провисли провода"}  # two rules (sidewalk, wires): ambiguous
    assert "energy" in cheboksary_router_alts(wires) and cheboksary_sector(wires) is None
    works = {**catch_all, "text": "Во дворе проводились работы, газон разрыт"}  # «проводились» is no wire
    assert cheboksary_router_alts(works) == catch_all["alts"] and cheboksary_sector(works) == "improvement"


def test_corpus_line_weight(tmp_path):
    from nlp.classifier import DataError, load_jsonl

    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "нет света", "relevant": true, "sector": "energy", "category": "power_outage", "weight": 0.3}\n', encoding="utf-8")
    [e] = load_jsonl(f, weight=2.0)
    assert e.weight == pytest.approx(0.6)
    f.write_text('{"text": "нет света", "relevant": false, "weight": 0}\n', encoding="utf-8")
    with pytest.raises(DataError, match="line 1.*weight"):
        load_jsonl(f)


def test_train_accepts_problems_without_sector_or_category():
    from nlp.classifier import Example, TrainOptions, train

    ex = [Example("нет света третий день", True, "energy", "power_outage", "high", "negative"),
          Example("яма на дороге", True, "roads", "road_surface", "normal", "negative")] * 6
    ex += [Example("прошу разобраться с этим безобразием", True, None, None, source="cheboksary")] * 6
    ex += [Example("отличная погода сегодня", False, tone="positive"), Example("концерт в парке", False, tone="neutral")] * 6
    clf = train(ex, TrainOptions(augment=0, calibration_size=0.0, dense_weight=0.0, min_df=1))
    assert set(clf.sectors) == {"energy", "roads"}
    assert clf.meta["label_counts"]["relevance"]["yes"] == 18


def test_question_style_corpus_is_generated_deterministically():
    """The one-line question/suggestion corpus (corpus_gen/questions.py) uses only categories
    of the taxonomy and has both problems and news-style non-problems."""
    import yaml

    from classifier_models.corpus_gen.appeals import generate_questions

    rows = generate_questions()
    assert rows == generate_questions()
    tax = yaml.safe_load(open("config/taxonomy.yaml", encoding="utf-8"))["sectors"]
    known = {(s["code"], c["code"] if isinstance(c, dict) else c) for s in tax for c in s.get("categories", [])}
    problems = [r for r in rows if r["relevant"]]
    assert len(problems) > 300 and all((r["sector"], r["category"]) in known for r in problems)
    assert any(not r["relevant"] for r in rows)
