"""The OpenAPI 3 description of the REST API (hand-written; tests check it covers every route)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "Ошибка", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ID = [{"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_INC = {"description": "Инцидент", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}}
_COMMON = {"401": _ERROR, "403": _ERROR, "404": _ERROR}

_TIME = {"type": "string", "format": "date-time", "nullable": True}
STATES = ("new", "routed", "acknowledged", "answered", "resolved", "rejected", "reopened")


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ЦУР Монитор — API для органов власти",
            "version": "1.1",
            "description": "Инциденты, направленные органу власти, ответы и смена состояния. "
            "Каждый запрос — с заголовком Authorization: Bearer <токен органа власти> (выдаёт `cur tokens add`).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/incidents": {
                "get": {
                    "summary": "Инциденты моего органа власти",
                    "description": "Ближайший срок — первым (инциденты без срока — в конце), при равных сроках — более новые. "
                    "Список выдаётся страницами: в ответе `next` — ссылка на следующую страницу (с теми же фильтрами и limit), "
                    "`null` на последней. Курсор указывает на позицию в порядке списка, а не на номер строки: инциденты, "
                    "появившиеся во время обхода, не сдвигают страницы, ни один инцидент не выдаётся дважды и не пропускается. "
                    "Курсор действителен только с теми фильтрами, с которыми выдан.",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(STATES)}, "description": "Только в этом состоянии"},
                        {"name": "open", "in": "query", "schema": {"type": "string", "enum": ["1", "0"], "default": "1"}, "description": "0 — и закрытые"},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "description": "Инцидентов на странице"},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "Непрозрачный курсор из `next_cursor` предыдущей страницы; без него — первая страница"},
                    ],
                    "responses": {
                        "200": {
                            "description": "Одна страница списка",
                            "content": {
                                "application/json": {
                                    "schema": {
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
                                    }
                                }
                            },
                        },
                        "400": _ERROR,
                        "401": _ERROR,
                    },
                }
            },
            "/api/incidents/{incident_id}": {
                "get": {"summary": "Инцидент с постами, ответами и журналом", "parameters": _ID, "responses": {"200": _INC, **_COMMON}}
            },
            "/api/incidents/{incident_id}/responses": {
                "post": {
                    "summary": "Записать ответ (первичный, промежуточный или окончательный)",
                    "parameters": _ID,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResponseIn"}}}},
                    "responses": {"200": _INC, "400": _ERROR, "409": _ERROR, **_COMMON},
                }
            },
            "/api/incidents/{incident_id}/state": {
                "post": {
                    "summary": "Сменить состояние: принять в работу, решить, отклонить",
                    "parameters": _ID,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StateIn"}}}},
                    "responses": {"200": _INC, "400": _ERROR, "409": _ERROR, **_COMMON},
                }
            },
            "/api/openapi.json": {"get": {"summary": "Это описание", "security": [], "responses": {"200": {"description": "OpenAPI 3"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "description": "Сообщение по-русски"}}},
                "Incident": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "state": {"type": "string", "enum": list(STATES)},
                        "sector": {"type": "string", "nullable": True},
                        "category": {"type": "string", "nullable": True},
                        "municipality": {"type": "string", "nullable": True},
                        "urgency": {"type": "string"},
                        "created_at": _TIME,
                        "routed_at": _TIME,
                        "first_reply_due": _TIME,
                        "interim_due": _TIME,
                        "final_due": _TIME,
                        "first_reply_at": _TIME,
                        "interim_at": _TIME,
                        "final_at": _TIME,
                        "resolved_at": _TIME,
                        "is_possible_fake": {"type": "boolean"},
                        "posts": {"type": "array", "items": {"type": "object"}},
                        "responses": {"type": "array", "items": {"type": "object"}},
                        "events": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "ResponseIn": {
                    "type": "object",
                    "required": ["kind", "text"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["first_reply", "interim", "final"]},
                        "text": {"type": "string"},
                        "author": {"type": "string", "description": "Кто ответил (по умолчанию — токен органа власти)"},
                    },
                },
                "StateIn": {
                    "type": "object",
                    "required": ["action"],
                    "properties": {"action": {"type": "string", "enum": ["acknowledge", "resolve", "reject"]}, "reason": {"type": "string"}},
                },
            },
        },
    }
