"""Jinja filters: local times, countdowns, labels of codes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from pipeline import timefmt
from pipeline.labels import (  # noqa: F401  (re-exported to templates)
    ACTOR_NAMES,
    ANSWER_FLAG_NAMES,
    AUDIT_ACTIONS,
    CHANNEL_NAMES,
    DECISION_NAMES,
    EVENT_NAMES,
    MONTH_NAMES,
    PLATFORM_NAMES,
    STATE_NAMES,
)
from pipeline.labels import STAGE_NAMES as RESPONSE_KINDS
from pipeline.quality_names import CUE_NAMES, QUALITY_NAMES  # noqa: F401  (re-exported to templates)

URGENCY_NAMES = {"high": "срочно", "normal": "обычная", "low": "низкая"}


def local_time(value: datetime | None, tz: ZoneInfo, fmt: str = timefmt.DATE_TIME) -> str:
    return timefmt.local(value, tz, fmt)


def human_delta(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} дн")
    if hours:
        parts.append(f"{hours} ч")
    if not days:
        parts.append(f"{mins} мин")
    return " ".join(parts)


def countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "—"
    delta = due - now
    if delta.total_seconds() >= 0:
        return f"осталось {human_delta(delta)}"
    return f"просрочено на {human_delta(delta)}"


def next_due(incident, now: datetime) -> tuple[str | None, datetime | None]:
    """The earliest deadline of a stage not yet done, for an open incident: (stage, due)."""
    if incident.state in ("resolved", "rejected") or incident.merged_into_id is not None:
        return None, None
    pending = [
        (due, stage)
        for stage, due, done in (
            ("first_reply", incident.first_reply_due, incident.first_reply_at),
            ("interim", incident.interim_due, incident.interim_at),
            ("final", incident.final_due, incident.final_at),
        )
        if due is not None and done is None
    ]
    if not pending:
        return None, None
    due, stage = min(pending)
    return stage, due


def month_name(month: str) -> str:
    """``2026-12`` → «декабрь 2026» (anything else is returned as it is)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        return month
    return f"{MONTH_NAMES[int(m.group(2)) - 1]} {m.group(1)}"


def number(value: float | int | None, digits: int = 1) -> str:
    """Russian style: decimal comma, thin spaces between thousands; ``None`` → «—»."""
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer() and digits == 0:
        return f"{int(value):,}".replace(",", "\u202f")
    text = f"{float(value):,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def actor_label(actor: str | None, people: Mapping[str, str] | None = None, authorities: Mapping[str, str] | None = None) -> str:
    """Who did it, in words: «система», «планировщик», «API: <ведомство>», a person by name (their login otherwise)."""
    actor = actor or ""
    if actor in ACTOR_NAMES:
        return ACTOR_NAMES[actor]
    if actor.startswith("api:"):
        code = actor[4:]
        return f"API: {(authorities or {}).get(code, code)}"
    return (people or {}).get(actor) or actor


def channel_label(channel: str | None) -> str:
    return CHANNEL_NAMES.get(channel or "", channel or "—")


def source_label(platform: str | None, key: str | None, titles: Mapping[tuple[str, str], str] | None = None) -> str:
    """A source by its name: the title stored for it, else «сообщество ВКонтакте №100001», «Telegram-канал @name»."""
    platform, key = platform or "", key or ""
    base = "telegram" if platform in ("telegram", "tgweb") else platform
    bare = key.split(":", 1)[1] if ":" in key and key.split(":", 1)[0] in ("vk", "tg", "file") else key
    for k in (key, bare):
        title = (titles or {}).get((base, k))
        if title:
            return title
    if base == "vk":
        if bare.lstrip("-").isdigit():
            return f"сообщество ВКонтакте №{bare.lstrip('-')}" if bare.startswith("-") else f"страница ВКонтакте №{bare}"
        return f"ВКонтакте: {bare}"
    if base == "telegram":
        return f"Telegram-канал @{bare.lstrip('@')}"
    if base == "file":
        return f"файл импорта «{bare}»"
    return f"{PLATFORM_NAMES.get(platform, platform)}: {bare}"


def score(value: float | None) -> str:
    """A rating score out of 100, «—» when there is nothing to score."""
    return "—" if value is None else number(value, 1)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * float(value):.0f}\u00a0%"


#: audit details: key → (label, how to show the value)
def ident(value: Any) -> Markup:
    """An identifier someone typed (a login, a model version): shown as it is, marked not to be translated."""
    return Markup('<span class="ident" translate="no">{}</span>').format(value)


def audit_details(action: str, data: Mapping[str, Any] | None, lookup: Callable[[str, Any], Any] | None = None) -> Markup:
    """An audit entry's details in words (never JSON): «адрес 10.0.0.7; причина: …»."""
    data = dict(data or {})
    look = lookup or (lambda _kind, v: str(v))
    parts: list[Markup] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            parts.append(Markup("{}: {}").format(label, value))

    if "sector" in data or "category" in data:
        sector, category = data.pop("sector", None), data.pop("category", None)
        if sector:
            add("направление", look("sector", sector))
        if category:
            add("категория", look("category", (sector, category)))
    if data.get("urgency"):
        add("срочность", URGENCY_NAMES.get(data["urgency"], data["urgency"]))
    data.pop("urgency", None)
    if data.get("incident_id"):
        add("инцидент", f"№{data['incident_id']}")
    data.pop("incident_id", None)
    if "kind" in data:
        add("вид ответа", RESPONSE_KINDS.get(data.pop("kind"), "—"))
    if "format" in data:
        add("формат", str(data.pop("format")).upper().replace("XLSX", "Excel"))
    if "authority" in data:
        value = data.pop("authority")
        if isinstance(value, list) and len(value) == 2:
            if value[0] != value[1]:
                add("орган власти", f"{look('authority', value[0]) if value[0] else 'нет'} → {look('authority', value[1]) if value[1] else 'нет'}")
        elif value:
            add("орган власти", look("authority", value))
    if "role" in data:
        value = data.pop("role")
        if isinstance(value, list) and len(value) == 2:
            add("роль", f"{look('role', value[0])} → {look('role', value[1])}")
        else:
            add("роль", look("role", value))
    if "merged" in data:
        add("присоединён инцидент", f"№{data.pop('merged')}")
    if "reason" in data:
        add("причина", data.pop("reason"))
    if "result" in data:
        add("версия", ident(data.pop("result")))
    if data.pop("force", False):
        parts.append(Markup("без проверки качества"))
    if data.pop("forced", False):
        parts.append(Markup("после входа с временным паролем"))
    if "wait" in data:
        add("ожидание", f"{data.pop('wait')} с")
    if "token_id" in data:
        add("токен", f"№{data.pop('token_id')}")
    if "label" in data:
        add("пометка", data.pop("label"))
    if "login" in data:
        add("логин", ident(data.pop("login")))
    if "full_name" in data:
        add("имя", data.pop("full_name"))
    if data.pop("must_change_password", False):
        parts.append(Markup("временный пароль"))
    if "temporary" in data:
        if data.pop("temporary"):
            parts.append(Markup("временный пароль"))
    data.pop("pid", None)  # a process number says nothing to a reader
    ip = data.pop("ip", None)
    for key, value in data.items():  # anything new: shown plainly, never as JSON
        add(AUDIT_KEYS.get(key, "данные"), value if isinstance(value, (str, int, float)) else ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else "—")
    if ip:
        parts.append(Markup("адрес {}").format(ip))
    return Markup("; ").join(parts)


#: names of keys of audit details not handled above
AUDIT_KEYS = {"region": "регион", "count": "количество", "comment": "комментарий", "version": "версия", "text": "текст"}


def audit_target(target: str | None, lookup: Callable[[str, Any], Any] | None = None) -> tuple[Markup, str | None]:
    """(words, link or None) for an audit entry's object: «инцидент №5» → /incidents/5."""
    look = lookup or (lambda _kind, v: str(v))
    target = target or ""
    if not target:
        return Markup(""), None
    kind, _, rest = target.partition(":")
    if kind == "incident" and rest.isdigit():
        return Markup("инцидент №{}").format(rest), f"/incidents/{rest}"
    if kind == "post" and rest.isdigit():
        return Markup("пост №{}").format(rest), None
    if kind == "report":
        return Markup("отчёт за {}").format(month_name(rest)), None
    if kind == "authority":
        return Markup("{}").format(look("authority", rest)), None
    if kind == "user":
        return Markup("пользователь {}").format(look("person", rest)), None
    if kind == "model":
        named = {"previous": "предыдущая версия модели", "new": "новая версия модели"}
        return (Markup(named[rest]) if rest in named else Markup("версия модели {}").format(ident(rest))), None
    m = re.fullmatch(r"/incidents/(\d+)(/.*)?", target)
    if m:
        return Markup("инцидент №{}").format(m.group(1)), f"/incidents/{m.group(1)}"
    if target.startswith("/"):
        return Markup(PAGE_NAMES.get(target.split("/")[1], "страница сайта")), None
    return Markup("{}").format(look("person", target)), None


#: first segment of a path → the page's name (for refused actions)
PAGE_NAMES = {"review": "очередь проверки", "models": "модели", "users": "пользователи", "tokens": "токены API", "incidents": "инциденты", "inbox": "входящие", "account": "смена пароля"}


_STAGES = (("first_reply", "first_reply_due", "first_reply_at"), ("interim", "interim_due", "interim_at"), ("final", "final_due", "final_at"))


def late_stages(incident) -> list[str]:
    """Stages answered after their deadline («с опозданием»)."""
    out = []
    for stage, due_attr, done_attr in _STAGES:
        due, done = getattr(incident, due_attr), getattr(incident, done_attr)
        if due is not None and done is not None and done > due:
            out.append(stage)
    return out


def overdue_stages(incident, now: datetime) -> list[str]:
    """Stages of an open incident not done whose deadline has passed."""
    if incident.state in ("resolved", "rejected") or incident.merged_into_id is not None:
        return []
    return [stage for stage, due_attr, done_attr in _STAGES if getattr(incident, due_attr) is not None and getattr(incident, done_attr) is None and getattr(incident, due_attr) < now]


def shorten(text: str | None, width: int = 80, empty: str = "без названия") -> str:
    """``text`` cut to ``width`` characters at a word boundary with «…» (never mid-word unless one word is longer)."""
    text = " ".join((text or "").split())
    if not text:
        return empty
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:—-–") + "…"
