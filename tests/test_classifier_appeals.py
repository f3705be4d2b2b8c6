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
