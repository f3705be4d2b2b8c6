"""The OpenAPI 3 description of the REST API (hand-written; tests check it covers every route)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "Ошибка", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ID = [{"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_INC = {"description": "Инцидент", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Incident"}}}}
_COMMON = {"401": _ERROR, "403": _ERROR, "404": _ERROR}

_TIME = {"type": "string", "format": "date-time", "nullable": True}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ЦУР Монитор — API для органов власти",
            "version": "1.0",
            "description": "Инциденты, направленные органу власти, ответы и смена состояния. "
            "Каждый запрос — с заголовком Authorization: Bearer <токен органа власти> (выдаёт `cur tokens add`).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/incidents": {
                "get": {
                    "summary": "Инциденты моего органа власти",
                    "parameters": [
                        {"name": "state", "in": "query", "schema": {"type": "string"}, "description": "Только в этом состоянии"},
                        {"name": "open", "in": "query", "schema": {"type": "string", "enum": ["1", "0"], "default": "1"}, "description": "0 — и закрытые"},
                    ],
                    "responses": {
                        "200": {
                            "description": "Список",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "authority": {"type": "string"},
                                            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}},
                                        },
                                    }
                                }
                            },
                        },
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
                        "state": {"type": "string", "enum": ["new", "routed", "acknowledged", "answered", "resolved", "rejected", "reopened"]},
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
