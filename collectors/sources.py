"""Turn what an operator types (a URL, ``@name``, a file path) into a :class:`SourceSpec`."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .base import SourceSpec

VK_HOSTS = {"vk.com", "vk.ru", "m.vk.com", "m.vk.ru", "www.vk.com", "www.vk.ru"}
TG_HOSTS = {"t.me", "telegram.me", "www.t.me"}
_NAME = re.compile(r"^[A-Za-z0-9_.]{2,64}$")
_TG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_VK_RESERVED = {"feed", "im", "search", "friends", "groups", "video", "music", "audio", "login", "settings", "apps"}


class SourceUrlError(ValueError):
    """The text is not a source this project can crawl; the message says why (in Russian, for the CLI)."""


def vk_owner_url(key: str) -> str:
    if key.lstrip("-").isdigit():
        return f"https://vk.com/club{key[1:]}" if key.startswith("-") else f"https://vk.com/id{key}"
    return f"https://vk.com/{key}"


def parse_source_url(text: str, telegram_via: str = "tgweb") -> SourceSpec:
    """Parse a source. ``telegram_via`` chooses the Telegram collector: "tgweb" (t.me/s/ preview) or "telegram"."""
    raw = text.strip()
    if not raw:
        raise SourceUrlError("пустой адрес источника")
    if telegram_via not in ("tgweb", "telegram"):
        raise SourceUrlError(f"неизвестный способ сбора Telegram: {telegram_via!r} (tgweb или telegram)")

    lowered = raw.lower()
    if lowered.startswith("vk-search:") or lowered.startswith("vksearch:"):
        query = raw.split(":", 1)[1].strip()
        if not query:
            raise SourceUrlError("пустой поисковый запрос VK")
        return SourceSpec("vk", "search", query, f"vk-search:{query}")
    if re.fullmatch(r"-\d+", raw):  # a bare VK community id, as the API writes it
        return SourceSpec("vk", "wall", raw, vk_owner_url(raw))
    if lowered.startswith("vk:"):  # vk:screen_name, vk:club123, vk:id5
        return _vk([raw[3:].strip()], "", raw)
    if raw.startswith("@"):
        return _telegram(raw[1:], telegram_via, raw)
    if lowered.startswith("file:"):
        return _file(unquote(urlsplit(raw).path) if raw.startswith("file://") else raw[5:])
    if lowered.endswith((".jsonl", ".csv", ".ndjson")) and "://" not in raw:
        return _file(raw)

    url = raw if "://" in raw else "https://" + raw
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if host in VK_HOSTS:
        return _vk(segments, parts.query, raw)
    if host in TG_HOSTS:
        if segments and segments[0] == "s":
            segments = segments[1:]
        if not segments:
            raise SourceUrlError(f"в адресе {raw!r} нет имени канала")
        if segments[0].startswith("+") or segments[0] == "joinchat":
            raise SourceUrlError(f"{raw!r}: закрытые каналы по приглашению не поддерживаются, нужен публичный канал")
        return _telegram(segments[0], telegram_via, raw)
    raise SourceUrlError(
        f"не удалось распознать источник {raw!r}: ожидается адрес vk.com/…, t.me/…, @канал, "
        "vk-search:запрос или путь к файлу .jsonl/.csv"
    )


def _vk(segments: list[str], query: str, raw: str) -> SourceSpec:
    if not segments:
        raise SourceUrlError(f"в адресе {raw!r} нет сообщества или страницы VK")
    head = segments[0]
    if head == "search" or head.startswith("search"):
        q = parse_qs(query)
        text = (q.get("q") or q.get("c[q]") or [""])[0].strip()
        if not text:
            raise SourceUrlError(f"в адресе поиска {raw!r} нет запроса (q=…)")
        return SourceSpec("vk", "search", text, f"vk-search:{text}")
    m = re.fullmatch(r"wall(-?\d+)_(\d+)", head)
    if m:
        key = f"{m.group(1)}_{m.group(2)}"
        return SourceSpec("vk", "comments", key, f"https://vk.com/wall{key}")
    m = re.fullmatch(r"(club|public|event)(\d+)", head)
    if m:
        return SourceSpec("vk", "wall", f"-{m.group(2)}", f"https://vk.com/club{m.group(2)}")
    m = re.fullmatch(r"id(\d+)", head)
    if m:
        return SourceSpec("vk", "wall", m.group(1), f"https://vk.com/id{m.group(1)}")
    if head in _VK_RESERVED or not _NAME.match(head):
        raise SourceUrlError(f"{raw!r} не похоже на сообщество или страницу VK")
    name = head.lower()
    return SourceSpec("vk", "wall", name, f"https://vk.com/{name}")


def _telegram(name: str, via: str, raw: str) -> SourceSpec:
    if not _TG_NAME.match(name):
        raise SourceUrlError(f"{raw!r}: недопустимое имя канала Telegram {name!r}")
    name = name.lower()
    url = f"https://t.me/s/{name}" if via == "tgweb" else f"https://t.me/{name}"
    return SourceSpec(via, "channel", name, url)  # type: ignore[arg-type]


def _file(path: str) -> SourceSpec:
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv"):
        raise SourceUrlError(f"{path!r}: поддерживаются файлы .jsonl и .csv")
    resolved = str(p.resolve())
    return SourceSpec("file", "csv" if suffix == ".csv" else "jsonl", resolved, resolved)
