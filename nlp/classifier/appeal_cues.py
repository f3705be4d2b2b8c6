"""Appeal cue: a text addressed to an authority that asks it to act.

Real appeals to a portal or an official are long and formal, and the relevance
head trained on social-media posts can miss them («Прошу разобраться…» about a
clinic, a school, a benefit). A citizen's request for action is a problem by
definition, even when its sector is unsure: such a post must reach a person.

``appeal_cue`` is True when the text carries a first-person request for action
(«прошу / просим / требую / помогите» followed within a few words by an action:
«принять меры», «разобраться», «проверить», «решить вопрос», «дать ответ»,
«оказать содействие», «отремонтировать», «установить», «вернуть», …) or an
address to an authority together with a request («Уважаемый глава…» … «прошу»).
Official notices («просим водителей планировать маршрут», «просим соблюдать
осторожность») are excluded by their objects.

What the cue does is decided in ``Classifier._predict``: a post with the cue that
would be judged not relevant is judged relevant but ``unsure`` (it goes to the
review queue with a proposed sector); an official-notice cue (``notice_cues.py``)
wins over it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_REQUEST = r"(?:прошу|просим|требую|требуем|убедительно прошу|очень прошу)"
_ACTION = (
    r"(?:принять|примите|разобрат|провести проверк|проверить|провер|решить|решени|помочь|оказать|содейств|"
    r"дать (?:ответ|разъяснен|письменный)|ответить|отремонт|ремонт|устран|установ|восстанов|вернуть|обязать|"
    r"привлечь|наказать|вывез|убрат|ликвид|выделить|обеспечить|организ|рассмотр|повлиять|отреагир|"
    r"запретить|остановить|прекратить|перенести|отлов|выплат|начисл|перерасч|включить|закрепить|"
    r"заменить|провести|навести порядок|вмешат|взять (?:на|под) контроль)"
)
REQUEST = re.compile(rf"\b{_REQUEST}\b[^.!?\n]{{0,60}}?\b{_ACTION}", re.IGNORECASE)
ADDRESS = re.compile(
    r"\bуважаем(?:ый|ая)\s+(?:глав|губернатор|мэр|министр|депутат|прокурор|[А-ЯЁ][а-яё]+\s+[А-ЯЁ][а-яё]+(?:вич|вна))"
    r"|\bобращаюсь\s+к\s+вам\b|\bобращаемся\s+к\s+вам\b|\bранее\s+(?:я\s+)?(?:уже\s+)?обращал"
    r"|\bповторно\s+обраща|\bобраща\w+\s+повторно\b|\bповторн\w+\s+(?:обращени|запрос|заявлени|жалоб)",
    re.IGNORECASE,
)
#: requests of official notices: to the public, about their own behaviour
_NOTICE_REQUEST = re.compile(
    rf"\b{_REQUEST}\b[^.!?\n]{{0,30}}?\b(?:водител|жител|граждан|пассажир|родител|собственник)\w*\b[^.!?\n]{{0,30}}?"
    r"\b(?:соблюд|планир|быть|отнест|учитыв|заранее|не остав|сообща|звонит|обращат)",
    re.IGNORECASE,
)
_FIRST_PERSON_REQUEST = re.compile(rf"\b{_REQUEST}\b", re.IGNORECASE)
_MUNICIPAL = (
    r"\b(?:ремонт|дорог|асфальт|освещ|фонар|остановк|площадк|мусор|свалк|вод|отоплен|газ|тротуар|двор|школ|сад|"
    r"поликлиник|больниц|автобус|маршрут|улиц|дом|подъезд|крыш|яму|ямы|лавочк|скамейк|контейнер|детск|парк|сквер|"
    r"светофор|переход|лифт|канализ|свет|электр|собак|пандус|стро)"
)
#: a demand or a plea without a verb («Требуем ремонта», «Просьба - отремонтируйте дорогу»),
#: imperatives addressed to an authority, and questions about what an authority will do
DEMAND = re.compile(
    r"\b(?:требую|требуем)\s+(?:срочн\w+\s+)?(?:ремонт|замен|установ|восстановл|провер|вывоз|уборк|отремонт|навест|принят|привлеч|наказ|обеспеч|решени|разъяснен|ответ)"
    r"|\bпросьба\b[^.!?\n]{0,40}?\b(?:" + _ACTION[3:-1] + r"|\w+(?:ите|йте)\b)"
    r"|\b(?:примите меры|наведите порядок|разберитесь)\b"
    r"|\b(?:отремонтируйте|восстановите|уберите|установите|почините|вывезите|ликвидируйте|проверьте|сделайте|постройте)\b"
    rf"[^.!?\n]{{0,60}}?{_MUNICIPAL}"
    r"|\bпланиру(?:ется|ются) ли\b|\bбудет ли (?:произвед|провед|отремонт|сдела|установл|решен|восстановл)\w*"
    r"|\bкогда (?:же |уже |наконец )?(?:будет|будут|планиру\w+|начн\w+|законч\w+|отремонтиру\w+|сним\w+|сдела\w+|убер\w+|установ\w+|почин\w+|восстанов\w+|вывез\w+|отремонт\w+)\b"
    rf"[^.!?\n]{{0,80}}?{_MUNICIPAL}"
    r"|\bпочему до сих пор\b|\bкто (?:должен|будет) (?:контролир|следить|отвеча|ремонт|убира|платить)"
    # «Хотелось бы узнать, когда…», «Подскажите, планируется ли…»: a question to the authority
    r"|\b(?:хотелось бы узнать|хочу узнать|подскажите|прошу сообщить|прошу разъяснить|просим сообщить)\b,?\s+"
    r"(?:пожалуйста,?\s+)?(?:когда|планиру|будет ли|будут ли|почему|на каком основании|в какие сроки|какие меры)"
    # a suggestion or an order about a municipal object
    r"|\b(?:предлагаю|предлагаем)\s+(?:\w+\s+){0,2}?(?:установить|сделать|перенести|переместить|построить|организовать|"
    r"отремонтировать|убрать|обустроить|оборудовать|продлить|восстановить|запустить|вернуть|закрыть|заменить)"
    r"|\b(?:приостановите|запретите|обяжите|переместите|перенесите|уберите|верните|замените|организуйте|"
    r"обустройте|оборудуйте|примите)\b[^.!?\n]{0,60}?" + _MUNICIPAL
    + r"|\bвключите\s+(?:\w+\s+){0,4}?в\s+(?:программ|план|список|график|перечень)"
    + r"|\bна каком основании\b",
    re.IGNORECASE,
)


#: every pattern above needs one of these substrings (lower case): a cheap test first
_TRIGGERS = ("прошу", "просим", "треб", "просьб", "уважаем", "обраща", "планиру", "будет ли", "когда", "почему до",
             "кто долж", "кто буд", "примите", "наведите", "разберитесь", "отремонт", "восстанов", "уберите",
             "установите", "почините", "вывезите", "ликвидир", "проверьте", "сделайте", "постройте", "повторн",
             "узнать", "подскажите", "сообщить", "разъяснить", "предлага", "приостановите", "запретите", "обяжите",
             "переместите", "перенесите", "включите", "верните", "замените", "организуйте", "обустройте",
             "оборудуйте", "основании")


def appeal_cue(text: str, lemmas: Sequence[str] = ()) -> bool:  # lemmas unused: same signature as the other cues
    """True when the text asks an authority to act (see the module docstring)."""
    text = text or ""
    low = text.lower()
    if not any(t in low for t in _TRIGGERS):
        return False
    m = REQUEST.search(text)
    if m is not None and not _NOTICE_REQUEST.search(text):
        return True
    if ADDRESS.search(text) is not None and _FIRST_PERSON_REQUEST.search(text) is not None:
        return True
    return DEMAND.search(text) is not None and not _NOTICE_REQUEST.search(text)
