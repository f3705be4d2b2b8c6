"""Official-notice / news cue: a post that reads like an announcement, not a complaint.

Hard non-problems that the relevance head takes for complaints are mostly
official announcements («Уважаемые жители! В связи с проведением работ …
будет прекращена подача …», planned outages with «с 9:00 до 17:00»), news of
repairs started or finished, police and accident news, and ads with problem
words. They share wording no citizen uses about their own trouble.

``notice_cue`` is True when a post carries such a *notice marker* and no
*citizen marker*: first person («я», «мы», «у нас», «мой»), a question mark,
«!!», «+1», a negation other than «не будет», or complaint words («опять»,
«почему», «сколько можно», «никто», «обещали», «жалоба», «уже», …). A citizen
quoting a notice and complaining about it therefore keeps no cue.

What the cue does is decided in ``Classifier._predict``: a post with the cue
needs P(relevant) >= ``Thresholds.notice_relevant`` to be judged relevant, is
never leaned relevant by the two-stage decision, and, when it falls short, is
not relevant but ``unsure`` (P(relevant) >= ``irrelevant_sure``), so it goes to
the review queue instead of being dropped. The cue is only looked at for posts
whose decision it can change. See docs/classification.md, "Fourth round".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: lemmas of announcements, news reports and ads (``nlp.text.lemmas``: lower case, «ё» as «е»)
NOTICE_LEMMAS = frozenset(
    # official notices of planned works
    "информировать уведомлять напоминать разъяснять извинение неудобство плановый планово-предупредительный "
    "проведение объезд "
    # news of works started or finished
    "завершить завершиться приступить стартовать "
    # police, court and accident news
    "задержать задержание возбудить уголовный следователь следственный госавтоинспекция выясняться "
    "пресс-служба осудить приговор мошенник "
    # ads and job offers
    "продать недорого скидка вакансия".split()
)
#: notice wording that lemmas lose (stop words) or that spans several words
NOTICE_TEXT = re.compile(
    r"\bуважаем(?:ые|ый|ая)\b|\bвниманию\b|\bв связи с\b|\bпо данным\b|\bпод ключ\b"
    r"|\bбуд(?:ет|ут) (?:временно |полностью |частично )?(?:прекращ|приостановл|огранич|отключ|перекры|закры|произвед|провод)"
    r"|\bс \d{1,2}[:.]\d{2}\b.{0,20}?\bдо \d{1,2}[:.]\d{2}"
    r"|\bс \d{1,2} (?:\w+ )?по \d{1,2} (?:январ|феврал|март|апрел|ма[яй]|июн|июл|август|сентябр|октябр|ноябр|декабр)"
    r"|\bдвижение (?:будет )?(?:временно )?(?:перекрыт|огранич|закрыт)|\b(?:перекрыва|огранич|закрыва)(?:ет|ют)ся движение"
    r"|\b(?:звоните|продаю|продам|сдаю|куплю)\b"
    r"|\b(?:никто|никого) не пострадал\w*|\bпострадавших нет\b|\bбез пострадавших\b",
    re.IGNORECASE,
)
#: lemmas of a citizen speaking about their own trouble
CITIZEN_LEMMAS = frozenset(
    "опять снова почему зачем сколько надоесть безобразие беспредел издевательство никто никакой "
    "невозможно жаловаться жалоба обещать терпеть уже помочь кошмар ужас".split()
)
CITIZEN_TEXT = re.compile(
    r"\b(?:я|мы|нас|нам|наш\w*|мне|меня|мой|моя|мое|моё|мои|моего|моей|моих)\b|\?|!!|\+1"
    r"|\bне (?!буд(?:ет|ут)\b)\w",
    re.IGNORECASE,
)


#: the news phrase «никто не пострадал» is not a citizen's «никто не …»
_NOBODY_HURT = re.compile(r"\b(?:никто|никого) не пострадал\w*", re.IGNORECASE)


def notice_cue(text: str, lemmas: Sequence[str]) -> bool:
    """True when the post reads like an announcement or a news report and carries no
    sign of a citizen speaking (see the module docstring)."""
    text = text or ""
    notice = not NOTICE_LEMMAS.isdisjoint(lemmas) or NOTICE_TEXT.search(text) is not None
    if not notice:
        return False
    citizen = set(CITIZEN_LEMMAS.intersection(lemmas))
    if citizen and "никто" in citizen and _NOBODY_HURT.search(text):
        citizen.discard("никто")
        text = _NOBODY_HURT.sub(" ", text)
    return not citizen and CITIZEN_TEXT.search(text) is None
