"""The OpenAPI 3 description of the REST API (hand-written; tests check it covers every route and
schemathesis checks every answer against it: tests/test_api_schemathesis.py)."""

from __future__ import annotations

from typing import Any

STATES = ("new", "routed", "acknowledged", "answered", "resolved", "rejected", "reopened")
RESPONSE_KINDS = ["first_reply", "interim", "final"]
STATE_ACTIONS = ["acknowledge", "resolve", "reject"]

_TIME = {"type": "string", "format": "date-time", "nullable": True}
_TIME_REQ = {"type": "string", "format": "date-time"}


def _error(description: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": {"error": example}}},
    }


E400 = _error("Неверный запрос: параметр или поле названо в сообщении", "Параметр open должен быть 1 или 0.")
E401 = {
    **_error("Нет токена, токен неверен или отозван", "Токен недействителен или отозван."),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer realm=\"cur\""}},
}
E403 = _error("Инцидент направлен другому органу власти", "Инцидент направлен другому органу власти.")
E404 = _error("Нет такого инцидента", "Инцидент не найден.")
E409 = _error("Действие невозможно в текущем состоянии инцидента", "Действие не выполнено: инцидент №42 в состоянии «Решён»: ответ записать нельзя")
E413 = _error("Тело запроса больше 2 МиБ", "Тело запроса больше 2 МиБ: сократите текст или отправьте частями.")
E415 = _error("Тело запроса — не application/json", "Тело запроса должно быть JSON с заголовком Content-Type: application/json.")
E422 = _error("Поле не заполнено как нужно для действия (reject без reason) или Idempotency-Key уже использован для другого запроса",
              "Для отклонения укажите причину: поле «reason» (непустая строка).")  # fmt: skip
E500 = _error("Внутренняя ошибка сервера (записана в журнал сервера)", "Внутренняя ошибка сервера. Ошибка записана в журнал; повторите позже или сообщите администратору.")
E503 = _error("Служба временно недоступна", "Служба недоступна: модуль инцидентов не загружен")

_ID = {
    "name": "incident_id", "in": "path", "required": True, "description": "Номер инцидента",
    "schema": {"type": "integer", "format": "int64", "minimum": 1}, "example": 42,
}  # fmt: skip
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Любая уникальная строка (например, UUID) для каждого нового действия. Повтор запроса с тем же ключом "
    "(после обрыва связи или тайм-аута) получает тот же ответ, а действие не выполняется второй раз: ответ не записывается "
    "дважды, повторное «принять в работу» не даёт 409. Ключ хранится сутки; тот же ключ с другим запросом — 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},
    "example": "5f1c2a9e-8d4b-4c1e-9a57-0f3d2b7c6e11",
}
_INC = {"description": "Инцидент", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}}
_INC_FULL = {"description": "Инцидент с постами, ответами и журналом", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IncidentDetail"}}}}
_COMMON = {"401": E401, "403": E403, "404": E404, "500": E500}
_POST_ERRORS = {"400": E400, "409": E409, "413": E413, "415": E415, "422": E422, "503": E503, **_COMMON}

INCIDENT_EXAMPLE = {
    "id": 42, "title": "Нет отопления в доме на ул. Ленина, 5", "state": "routed", "sector": "housing", "category": "heating",
    "municipality": "kemerovo", "urgency": "high", "created_at": "2026-12-01T02:00:00+00:00", "routed_at": "2026-12-01T02:05:00+00:00",
    "first_reply_due": "2026-12-01T06:05:00+00:00", "interim_due": "2026-12-01T14:05:00+00:00", "final_due": "2026-12-04T14:05:00+00:00",
    "first_reply_at": None, "interim_at": None, "final_at": None, "resolved_at": None, "updated_at": "2026-12-01T02:05:00+00:00",
    "is_possible_fake": False, "merged_into_id": None, "answer_flag": None,
}  # fmt: skip


FAKE_EXAMPLE = {
    "id": 3, "claim": "В Мурманске вода из-под крана отравлена, пить её нельзя", "refutation": "Водоканал: пробы воды в норме.",
    "link": "https://example.org/refute/1", "added_by": "api:min_housing_roads", "created_at": "2026-12-01T02:00:00+00:00", "active": True,
}  # fmt: skip


def _incident_schema() -> dict[str, Any]:
    props = {
        "id": {"type": "integer", "format": "int64", "description": "Номер инцидента"},
        "title": {"type": "string", "description": "Суть (из текста постов)"},
        "state": {"type": "string", "enum": list(STATES)},
        "sector": {"type": "string", "nullable": True, "description": "Код направления"},
        "category": {"type": "string", "nullable": True, "description": "Код категории"},
        "municipality": {"type": "string", "nullable": True, "description": "Код муниципалитета"},
        "urgency": {"type": "string", "description": "Срочность: low, normal, high, critical"},
        "created_at": _TIME_REQ,
        "routed_at": _TIME,
        "first_reply_due": _TIME,
        "interim_due": _TIME,
        "final_due": _TIME,
        "first_reply_at": _TIME,
        "interim_at": _TIME,
        "final_at": _TIME,
        "resolved_at": _TIME,
        "updated_at": {**_TIME_REQ, "description": "Время последнего изменения (для синхронизации: параметр updated_since)"},
        "is_possible_fake": {"type": "boolean"},
        "merged_into_id": {"type": "integer", "format": "int64", "nullable": True, "description": "Если инцидент объединён с другим — номер того; иначе null"},
        "answer_flag": {"type": "string", "nullable": True, "enum": ["formulaic", "refusal", "rude", "review", None],
                        "description": "Ответ, который должен проверить руководитель ЦУР: formulaic — формальный (без срока, действия, "
                        "ответственного), refusal — отказ, rude — грубый; такой ответ не закрывает этап. review — оценка ответа "
                        "неуверенная, ответ засчитан, но будет проверен. null — нет"},
    }
    return {"type": "object", "required": list(props), "properties": props, "example": INCIDENT_EXAMPLE}


def _official_row_schema() -> dict[str, Any]:
    ints = ("rank", "posts", "days_with_posts", "weeks", "weeks_with_posts", "comments", "problems", "decided", "answered", "on_time",
            "late", "not_substantive", "unanswered", "pending", "answers", "answers_substantive", "to_incidents")
    nums = ("longest_gap_days", "median_answer_minutes", "regularity", "answered_share", "on_time_share", "substantive_share", "score")
    props: dict[str, Any] = {"authority": {"type": "string", "description": "Код органа власти"}, "name": {"type": "string"},
                             "pages": {"type": "array", "items": {"type": "string"}, "description": "Адреса официальных страниц"}}
    props.update({k: {"type": "integer"} for k in ints})
    props.update({k: {"type": "number", "nullable": True} for k in nums})
    props["not_substantive"]["description"] = "Проблемы, на которые страница ответила только формально, отказом или грубо"
    props["median_answer_minutes"]["description"] = "Медиана времени до ответа по существу, минут"
    props["score"]["description"] = "Балл 0–100 (docs/ratings.md)"
    return {"type": "object", "required": list(props), "properties": props}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ЦУР Монитор — API для органов власти",
            "version": "1.3",
            "description": "Инциденты, направленные органу власти, ответы и смена состояния. "
            "Каждый запрос — с заголовком Authorization: Bearer <токен органа власти> (выдаёт `cur tokens add`). "
            "Ошибки — JSON {\"error\": \"сообщение по-русски\"}. Тело запроса — не больше 2 МиБ. "
            "POST с заголовком Idempotency-Key можно безопасно повторять.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/incidents": {
                "get": {
                    "operationId": "listIncidents",
                    "summary": "Инциденты моего органа власти",
                    "description": "Ближайший срок — первым (инциденты без срока — в конце), при равных сроках — более новые. "
                    "Список выдаётся страницами: в ответе `next` — ссылка на следующую страницу (с теми же фильтрами и limit), "
                    "`null` на последней. Курсор указывает на позицию в порядке списка, а не на номер строки: инциденты, "
                    "появившиеся во время обхода, не сдвигают страницы, ни один инцидент не выдаётся дважды и не пропускается. "
                    "Курсор действителен только с теми фильтрами, с которыми выдан. "
                    "Для синхронизации: `updated_since` — только изменённые с этого времени (и закрытые, и объединённые — "
                    "у них `merged_into_id`); сохраните время начала обхода и передайте его в следующий раз.",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}, "description": "Только в этом состоянии", "example": "routed"},
                        {"name": "open", "in": "query", "schema": {"type": "string", "enum": ["1", "0"]},
                         "description": "1 — только открытые (по умолчанию), 0 — и закрытые (по умолчанию при updated_since)", "example": "1"},
                        {"name": "updated_since", "in": "query", "schema": {"type": "string", "format": "date-time"},
                         "description": "Только изменённые с этого времени (ISO 8601 с часовым поясом; «+» в адресе — %2B)", "example": "2026-12-01T09:00:00+07:00"},
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}, "description": "Поиск по тексту сообщений и названию инцидента (слова в любой форме; все слова должны быть) или номер инцидента", "example": "отопление"},
                        {"name": "sector", "in": "query", "schema": {"type": "string"}, "description": "Код направления", "example": "housing"},
                        {"name": "category", "in": "query", "schema": {"type": "string"}, "description": "Код категории"},
                        {"name": "municipality", "in": "query", "schema": {"type": "string"}, "description": "Код муниципалитета"},
                        {"name": "authority", "in": "query", "schema": {"type": "string"}, "description": "Не действует: список всегда только вашего органа власти"},
                        {"name": "urgency", "in": "query", "schema": {"type": "string", "enum": ["high", "normal", "low"]}, "description": "Срочность"},
                        {"name": "source", "in": "query", "schema": {"type": "string"}, "description": "Ключ источника сообщений"},
                        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Открыт не раньше этого дня (по времени региона)", "example": "2026-12-01"},
                        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Открыт не позже этого дня (по времени региона)", "example": "2026-12-31"},
                        {"name": "overdue", "in": "query", "schema": {"type": "string", "enum": ["1"]}, "description": "1 — только просроченные (открытые, срок этапа прошёл)"},
                        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["due", "opened", "-opened"]}, "description": "due — ближайший невыполненный срок первым; opened / -opened — по времени открытия"},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "description": "Инцидентов на странице", "example": 50},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "Непрозрачный курсор из `next_cursor` предыдущей страницы; без него — первая страница"},
                    ],  # fmt: skip
                    "responses": {
                        "200": {
                            "description": "Одна страница списка",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/IncidentPage"},
                                    "example": {"authority": "min_housing_roads", "total": 1, "limit": 50, "incidents": [INCIDENT_EXAMPLE], "next_cursor": None, "next": None},
                                }
                            },
                        },
                        "400": E400,
                        "401": E401,
                        "500": E500,
                    },
                }
            },
            "/api/incidents/{incident_id}": {
                "get": {"operationId": "getIncident", "summary": "Инцидент с постами, ответами и журналом", "parameters": [_ID], "responses": {"200": _INC_FULL, **_COMMON}}
            },
            "/api/incidents/{incident_id}/responses": {
                "post": {
                    "operationId": "postResponse",
                    "summary": "Записать ответ (первичный, промежуточный или окончательный)",
                    "description": "В журнале инцидента действующее лицо — `api:<код органа власти>`; поле author — подпись ответа. Каждый ответ получает оценку качества: формальный ответ (без срока, действия или ответственного), отказ или грубый ответ сохраняется, но не закрывает этап — в ответе `answer_flag` не null, и руководитель ЦУР получает уведомление.",
                    "parameters": [_ID, _IDEMPOTENCY],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseIn"},
                                                         "example": {"kind": "first_reply", "text": "Бригада выехала, подача тепла — до 18:00", "author": "Иванова И. И."}}},
                    },  # fmt: skip
                    "responses": {"200": _INC, **_POST_ERRORS},
                }
            },
            "/api/incidents/{incident_id}/state": {
                "post": {
                    "operationId": "changeState",
                    "summary": "Сменить состояние: принять в работу, решить, отклонить",
                    "description": "reject требует reason (иначе 422).",
                    "parameters": [_ID, _IDEMPOTENCY],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StateIn"}, "example": {"action": "acknowledge"}}},
                    },
                    "responses": {"200": _INC, **_POST_ERRORS},
                }
            },
            "/api/fakes": {
                "get": {
                    "operationId": "listFakeClaims",
                    "summary": "Реестр опровергнутых утверждений",
                    "description": "Действующие утверждения и порог сходства, с которым новые посты помечаются «возможный фейк».",
                    "responses": {
                        "200": {"description": "Утверждения и порог", "content": {"application/json": {
                            "schema": {"type": "object", "required": ["threshold", "claims"], "properties": {
                                "threshold": {"type": "number"}, "claims": {"type": "array", "items": {"$ref": "#/components/schemas/FakeClaim"}}}},
                            "example": {"threshold": 0.45, "claims": [FAKE_EXAMPLE]}}}},
                        "401": E401,
                        "500": E500,
                    },
                },
                "post": {
                    "operationId": "addFakeClaim",
                    "summary": "Добавить опровергнутое утверждение",
                    "description": "Новые посты сравниваются с ним при следующей обработке. Добавивший — `api:<код органа власти>`; "
                    "изменение записывается в журнал действий. То же утверждение второй раз — 409; утверждение короче трёх слов "
                    "или ссылка не http(s) — 400.",
                    "parameters": [_IDEMPOTENCY],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FakeClaimIn"},
                                                         "example": {"claim": FAKE_EXAMPLE["claim"], "refutation": FAKE_EXAMPLE["refutation"], "link": FAKE_EXAMPLE["link"]}}},
                    },
                    "responses": {"200": {"description": "Утверждение в реестре", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FakeClaim"}}}},
                                  **_POST_ERRORS, "409": _error("Такое утверждение уже есть в реестре", "Действие не выполнено: такое утверждение уже есть в реестре: №3")},
                },
            },
            "/api/official-pages": {
                "get": {
                    "operationId": "officialPages",
                    "summary": "Рейтинг «ведение официальных страниц» за месяц",
                    "description": "По каждому органу власти с подключёнными официальными страницами (сообщества VK, каналы Telegram): "
                    "регулярность постов, комментарии жителей о проблемах, доля отвеченных по существу и в срок, медиана времени "
                    "ответа, формальные ответы, оставленные без ответа и переданные в инциденты, балл. Формула — docs/ratings.md. "
                    "Рейтинг публичный: в ответе все органы власти; `authority` — код органа власти токена.",
                    "parameters": [{"name": "month", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                    "description": "Месяц ГГГГ-ММ (по умолчанию текущий, по времени региона)", "example": "2026-11"}],
                    "responses": {
                        "200": {"description": "Строки рейтинга, лучший балл первым",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OfficialPages"}}}},
                        "400": E400, "401": E401, "500": E500,
                    },
                }
            },
            "/api/alerts": {
                "get": {
                    "operationId": "listAlerts",
                    "summary": "Возникающие проблемы региона",
                    "description": "Всплески новых постов о проблеме в одном муниципалитете, направлении и категории: число постов за 24 часа "
                    "против своей базы за 28 дней (проверка по Пуассону, формула — docs/alerts.md). Новые — первыми.",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "closed", "all"], "default": "open"},
                         "description": "open — действующие (по умолчанию), closed — закрытые, all — все", "example": "open"},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "description": "Не больше стольких"},
                    ],  # fmt: skip
                    "responses": {
                        "200": {"description": "Список", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AlertList"}}}},
                        "400": E400,
                        "401": E401,
                        "500": E500,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {"operationId": "openapi", "summary": "Это описание", "security": [], "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}}}
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "description": "Сообщение по-русски"}}},
                "Incident": _incident_schema(),
                "AlertList": {
                    "type": "object",
                    "required": ["alerts"],
                    "properties": {"alerts": {"type": "array", "items": {
                        "type": "object",
                        "required": ["id", "title", "state", "opened_at", "count", "expected", "p_value", "incidents", "posts", "events"],
                        "properties": {
                            "id": {"type": "integer"},
                            "title": {"type": "string", "description": "Муниципалитет · направление: категория"},
                            "municipality": {"type": "string", "nullable": True},
                            "sector": {"type": "string", "nullable": True},
                            "category": {"type": "string", "nullable": True},
                            "state": {"type": "string", "enum": ["open", "closed"]},
                            "opened_at": {"type": "string", "format": "date-time"},
                            "updated_at": {"type": "string", "format": "date-time", "nullable": True},
                            "closed_at": {"type": "string", "format": "date-time", "nullable": True},
                            "count": {"type": "integer", "description": "Новых постов о проблеме за окно (в пике)"},
                            "expected": {"type": "number", "description": "Ожидалось за окно по базе"},
                            "p_value": {"type": "number", "description": "Вероятность такого числа постов случайно (хвост Пуассона)"},
                            "incidents": {"type": "array", "items": {"type": "integer"}},
                            "posts": {"type": "integer", "description": "Сколько постов в всплеске"},
                            "events": {"type": "array", "items": {"type": "object", "properties": {
                                "kind": {"type": "string", "enum": ["opened", "grown", "closed"]},
                                "at": {"type": "string", "format": "date-time"}}}},
                        },
                    }}},
                },
                "OfficialPages": {
                    "type": "object",
                    "required": ["month", "authority", "rows"],
                    "properties": {
                        "month": {"type": "string"},
                        "authority": {"type": "string", "description": "Код органа власти токена"},
                        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/OfficialPageRow"}},
                    },
                },
                "OfficialPageRow": _official_row_schema(),
                "IncidentPage": {
                    "type": "object",
                    "required": ["authority", "total", "limit", "incidents", "next", "next_cursor"],
                    "properties": {
                        "authority": {"type": "string", "description": "Код органа власти токена"},
                        "total": {"type": "integer", "description": "Сколько инцидентов подходит под фильтры (на всех страницах)"},
                        "limit": {"type": "integer"},
                        "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}},
                        "next_cursor": {"type": "string", "nullable": True, "description": "Курсор следующей страницы; null — это последняя"},
                        "next": {"type": "string", "nullable": True, "description": "Путь следующей страницы с теми же фильтрами; null — это последняя"},
                    },
                },
                "IncidentDetail": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Incident"},
                        {
                            "type": "object",
                            "required": ["posts", "addresses", "responses", "events", "fake_marks"],
                            "properties": {
                                "posts": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}},
                                "addresses": {"type": "array", "items": {"$ref": "#/components/schemas/Address"},
                                              "description": "Адреса (улица и дом), которые называют посты инцидента"},
                                "responses": {"type": "array", "items": {"$ref": "#/components/schemas/Response"}},
                                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                                "fake_marks": {"type": "array", "items": {"$ref": "#/components/schemas/FakeMark"},
                                               "description": "Посты инцидента, похожие на опровергнутые утверждения реестра («возможный фейк»)"},
                            },
                        },
                    ]
                },
                "Address": {
                    "type": "object",
                    "required": ["key", "label"],
                    "properties": {
                        "key": {"type": "string", "description": "Нормализованный ключ: лемма улицы#дом, «весенний#12»"},
                        "label": {"type": "string", "description": "Адрес, как его пишут люди: «ул. Весенняя, 12»"},
                    },
                },
                "Post": {
                    "type": "object",
                    "required": ["id", "platform", "url", "published_at", "text"],
                    "properties": {
                        "id": {"type": "integer", "format": "int64"},
                        "platform": {"type": "string", "description": "vk, telegram, …"},
                        "url": {"type": "string", "nullable": True, "description": "Ссылка на оригинал"},
                        "published_at": _TIME_REQ,
                        "text": {"type": "string", "description": "Текст поста как опубликован (недоверенные данные)"},
                    },
                    "example": {"id": 7, "platform": "vk", "url": "https://vk.com/wall-1_2", "published_at": "2026-12-01T01:58:00+00:00", "text": "Третий день нет отопления"},
                },
                "Response": {
                    "type": "object",
                    "required": ["kind", "text", "author", "channel", "at", "quality", "quality_confidence", "quality_review", "counted"],
                    "properties": {
                        "kind": {"type": "string", "enum": RESPONSE_KINDS},
                        "text": {"type": "string"},
                        "author": {"type": "string", "description": "Подпись ответа"},
                        "channel": {"type": "string", "description": "web, api, vk, telegram, cli"},
                        "at": _TIME_REQ,
                        "quality": {"type": "string", "nullable": True, "enum": ["substantive", "formulaic", "refusal", "rude", None],
                                    "description": "Оценка ответа: по существу, формальный, отказ, грубый (null — ответ записан до появления оценки)"},
                        "quality_confidence": {"type": "number", "nullable": True, "description": "Уверенность оценки, 0–1"},
                        "quality_review": {"type": "boolean", "description": "Оценка неуверенная и ждёт проверки человеком"},
                        "counted": {"type": "boolean", "description": "Ответ закрыл этап (false — не по существу, этап не закрыт)"},
                    },
                },
                "Event": {
                    "type": "object",
                    "required": ["kind", "at", "actor", "from_state", "to_state"],
                    "properties": {
                        "kind": {"type": "string", "description": "Вид события журнала"},
                        "at": _TIME_REQ,
                        "actor": {"type": "string", "description": "Кто: логин, api:<код органа>, system, …"},
                        "from_state": {"type": "string", "nullable": True},
                        "to_state": {"type": "string", "nullable": True},
                    },
                },
                "FakeMark": {
                    "type": "object",
                    "required": ["post_id", "claim_id", "claim", "refutation", "link", "score", "decision"],
                    "properties": {
                        "post_id": {"type": "integer", "format": "int64"},
                        "claim_id": {"type": "integer", "format": "int64"},
                        "claim": {"type": "string", "description": "Опровергнутое утверждение"},
                        "refutation": {"type": "string"},
                        "link": {"type": "string", "nullable": True},
                        "score": {"type": "number", "description": "Сходство поста с утверждением, 0–1"},
                        "decision": {"type": "string", "nullable": True, "enum": ["confirmed", "dismissed", None],
                                     "description": "Решение оператора ЦУР: confirmed — пост повторяет утверждение, dismissed — нет, null — ждёт"},
                    },
                },
                "FakeClaim": {
                    "type": "object",
                    "required": ["id", "claim", "refutation", "link", "added_by", "created_at", "active"],
                    "properties": {
                        "id": {"type": "integer", "format": "int64"},
                        "claim": {"type": "string", "description": "Опровергнутое утверждение"},
                        "refutation": {"type": "string", "description": "Текст опровержения"},
                        "link": {"type": "string", "nullable": True, "description": "Ссылка на опровержение"},
                        "added_by": {"type": "string", "description": "Кто добавил: логин, api:<код органа>, cli:<пользователь>"},
                        "created_at": _TIME_REQ,
                        "active": {"type": "boolean"},
                    },
                    "example": FAKE_EXAMPLE,
                },
                "FakeClaimIn": {
                    "type": "object",
                    "required": ["claim", "refutation"],
                    "properties": {
                        "claim": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Утверждение, не меньше трёх слов"},
                        "refutation": {"type": "string", "minLength": 1, "maxLength": 4000},
                        "link": {"type": "string", "nullable": True, "maxLength": 1024, "description": "http:// или https://"},
                    },
                },
                "ResponseIn": {
                    "type": "object",
                    "required": ["kind", "text"],
                    "properties": {
                        "kind": {"type": "string", "enum": RESPONSE_KINDS},
                        "text": {"type": "string", "minLength": 1, "pattern": "\\S"},
                        "author": {"type": "string", "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]*$", "description": "Подпись ответа (по умолчанию — api:<код органа>); без управляющих символов"},
                    },
                },
                "StateIn": {
                    "type": "object",
                    "required": ["action"],
                    "properties": {
                        "action": {"type": "string", "enum": STATE_ACTIONS},
                        "reason": {"type": "string", "description": "Причина; обязательна для reject"},
                    },
                },
            },
        },
    }
