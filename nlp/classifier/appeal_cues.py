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


#: Forms of a written complaint about an authority's or a service's work (round 6), written
#: from the general form of appeals to a portal, not from the misjudged texts: a promise not
#: kept or works not finished («обещали построить…», «так и не отремонтировали», «воз и ныне
#: там», «срок сдачи прошёл»), a reply judged a brush-off («отписка», «мотивированный отказ»),
#: a disputed bill («неправильно начисляют», «необоснованно увеличили тариф», «взимает плату
#: за…»), a bus route that does not run as it should (intervals, a route stopped, a driver who
#: refused or was rude). Each names a failure of someone who must act; news reports use
#: other words («не справился с управлением», «по данным…»).
_FORMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("обещал",), r"\bобещал\w*\b[^.!?\n]{0,60}?\b(?:построить|сделать|отремонтировать|установить|заменить|"
     r"восстановить|закончить|провести|подключить|открыть|убрать|благоустроить|заасфальтировать|снести)"),
    (("так и не",), r"\bтак и не\s+(?:\w+\s+)?(?:(?:сделал|построил|отремонтировал|восстановил|установил|решил|"
     r"выполнил|устранил|подключил|доделал|закончил|убрал|вывез)и\b|(?:сделан|построен|отремонтирован|восстановлен|"
     r"решен|решён|устранен|устранён|подключен|оснащен|оснащён)\w*)"),
    (("до сих пор не",), r"\bдо сих пор не\s+(?:\w+\s+)?(?:сделан|построен|отремонтир|восстановл|решен|решён|"
     r"устранен|устранён|подключ|убран|вывез|заменен|заменён|закончен|сдан)\w*"),
    (("воз и ныне", "ничего не сделано", "ситуация не"),
     r"\bвоз и ныне там\b|\bничего не сделано\b|\bситуация не (?:изменилась|меняется)\b"),
    (("срок",), r"\bсрок\w*\s+(?:сдачи|окончания|завершения|выполнения)\b[^.!?\n]{0,40}?"
     r"\b(?:прош[её]л|прошли|истек|истёк|истекли|сорван)"),
    (("отписк", "мотивирован"), r"\bотписк|\bмотивированн\w+ отказ"),
    (("правильно", "правомерно", "обоснованно", "законно", "неверно", "завышен"),
     r"\b(?:неправильно|неправомерно|необоснованно|незаконно|неверно|завышен\w*)\s+(?:\w+\s+){0,2}?"
     r"(?:начисл|считают|посчитал|рассчит|выставл|увеличил|повысил|взыма|взим|берут|списыва)\w*"
     r"|\bзаконно ли\b|\bэто законно\b"),
    (("взыма", "взима"), r"\bвзыма\w* (?:плат|деньг|сбор)|\bвзима\w* (?:плат|деньг|сбор)"),
    (("интервал",), r"\bинтервал\w*\b[^.!?\n]{0,40}?(?:более|больше|свыше)\s+\d+\s*мин"
     r"|\bне соблюда\w*\s+(?:\w+\s+)?интервал|\bнесоблюдени\w+ интервал"),
    (("маршрут",), r"\bмаршрут\w*\b[^.!?\n]{0,40}?\b(?:перестал\w* ходить|не ходит|не ходят|отменили|сократили|"
     r"убрали|ходит редко)"),
    (("водител",), r"\bводител\w*\b[^.!?\n]{0,50}?\b(?:нахамил|нагрубил|грубил|хамил|хамит|отказал\w*|"
     r"не остановил\w* на остановке|проехал\w* мимо остановки|проехал\w* остановку|не открыл\w* двер|курил)"),
)
#: (substrings any of which must be in the lower-cased text, pattern): only the patterns whose
#: substring is present are run, so long news posts cost little
COMPLAINT_FORMS = tuple((t, re.compile(rx, re.IGNORECASE)) for t, rx in _FORMS)
_FORM_TRIGGER = re.compile("|".join(re.escape(t) for trig, _ in _FORMS for t in trig))


def complaint_form(text: str, low: str | None = None) -> bool:
    """True when the text carries one of the written-complaint forms (``COMPLAINT_FORMS``);
    ``low`` is the lower-cased text when the caller has it."""
    low = (text or "").lower() if low is None else low
    if _FORM_TRIGGER.search(low) is None:
        return False
    return any(any(t in low for t in trig) and rx.search(text) is not None for trig, rx in COMPLAINT_FORMS)


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
        return complaint_form(text, low)
    m = REQUEST.search(text)
    if m is not None and not _NOTICE_REQUEST.search(text):
        return True
    if ADDRESS.search(text) is not None and _FIRST_PERSON_REQUEST.search(text) is not None:
        return True
    if DEMAND.search(text) is not None and not _NOTICE_REQUEST.search(text):
        return True
    return complaint_form(text, low)
