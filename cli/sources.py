"""`cur sources add|list|suggest|remove`, `cur crawl [--source URL]` and `cur telegram login`."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import click

from pipeline import timefmt

from .common import err_console, fail, get_app
from .errors import EXIT_FAILED

KIND_NAMES = {
    ("vk", "wall"): "VK, стена", ("vk", "comments"): "VK, комментарии к посту", ("vk", "search"): "VK, поиск",
    ("tgweb", "channel"): "Telegram, веб-просмотр t.me/s", ("telegram", "channel"): "Telegram, MTProto",
    ("file", "jsonl"): "файл JSONL", ("file", "csv"): "файл CSV",
}
REASONS = {
    "captcha_needed": "VK требует капчу", "access_denied": "доступ запрещён",
    "user_deleted_or_banned": "страница удалена или заблокирована", "private_profile": "закрытый профиль",
    "group_access_denied": "закрытое сообщество", "comments_access_denied": "комментарии закрыты",
    "invalid_user_id": "неверный идентификатор", "preview_disabled": "веб-просмотр канала отключён",
    "not_found": "не найден", "channel_private": "закрытый канал", "file_missing": "файл не найден",
}


def _local(dt: datetime | None, tz: tzinfo) -> str:
    return timefmt.local(dt, tz, "%Y-%m-%d %H:%M")


#: an error noted this long after the last success belongs to a later, failed crawl
#: (skipped records of a successful crawl are noted right after its success)
LATER_CRAWL = timedelta(minutes=1)


def _crawl_state(last_success_at: datetime | None, last_error_at: datetime | None) -> str:
    if last_success_at is None:
        return "ещё не обходился" if last_error_at is None else "не работает: успешных обходов не было, последний завершился ошибкой"
    if last_error_at is not None and last_error_at - last_success_at > LATER_CRAWL:
        return "последний обход завершился ошибкой"
    return "работает"


def find_source(session: Any, text: str) -> Any:
    """A source by its number, the URL it was added with, or any URL that parses to it."""
    from collectors.sources import SourceUrlError, parse_source_url
    from storage.crawl_repo import get_source
    from storage.sources import find_source as find
    from storage.sources import find_source_by_url

    text = text.strip()
    if text.isdigit():
        return get_source(session, int(text))
    for via in ("tgweb", "telegram"):
        try:
            spec = parse_source_url(text, telegram_via=via)
        except SourceUrlError:
            break
        src = find(session, spec.platform, spec.kind, spec.key)
        if src is not None:
            return src
    return find_source_by_url(session, text)


@click.group("sources")
def sources_group() -> None:
    """Источники: сообщества и страницы VK, поиск VK, каналы Telegram, файлы выгрузок."""


@sources_group.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--via", "telegram_via", type=click.Choice(["tgweb", "telegram"]), default="tgweb",
              show_default=True, help="Как читать канал Telegram: веб-просмотр t.me/s (без входа) или MTProto API.")


@click.option("--no-comments", is_flag=True, help="Не собирать комментарии под постами стены VK.")
@click.option("--appeals", is_flag=True, help="Файл с обращениями платформы обратной связи (проблемы по определению).")
@click.option("--interval", type=click.IntRange(1, 10080), default=None, help="Интервал обхода, минут.")
@click.option("--title", default=None, help="Название источника для списков.")
@click.option("--official", "official_of", default=None, metavar="КОД_ОРГАНА",
              help="Официальная страница этого органа власти (код из профиля региона): её посты и ответы "
                   "на комментарии жителей входят в рейтинг «ведение официальных страниц».")
@click.option("--municipality", default=None, metavar="КОД",
              help="Муниципалитет по умолчанию для постов источника, не называющих места (код из профиля региона; "
                   "«-» — убрать). Для уже добавленного источника — меняет его.")
@click.option("--region", "region_code", default=None, metavar="КОД_РЕГИОНА",
              help="Регион источника (код профиля из обслуживаемых, настройка regions); без него — основной регион "
                   "(настройка region). Для уже добавленного источника — меняет его.")
@click.pass_context
def sources_add(ctx: click.Context, urls: tuple[str, ...], telegram_via: str, no_comments: bool,
                appeals: bool, interval: int | None, title: str | None, official_of: str | None,
                municipality: str | None, region_code: str | None) -> None:
    """Добавить источники: https://vk.com/club123, https://vk.com/имя, https://vk.com/wall-1_2,
    vk-search:Кемерово, https://t.me/канал, @канал, путь к файлу .jsonl/.csv (можно несколько)."""
    from collectors.sources import SourceUrlError, parse_source_url
    from storage.regions import set_source_region
    from storage.sources import get_or_create_source, set_source_municipality

    specs = []
    for url in urls:  # check them all before adding any
        try:
            specs.append(parse_source_url(url, telegram_via=telegram_via))
        except SourceUrlError as e:
            fail(str(e))
    app = get_app(ctx)
    profile = app.region
    if region_code is not None:
        served = {p.code: p for p in app.served}
        if region_code not in served:
            fail(f"регион {region_code!r} не обслуживается: обслуживаются {', '.join(served)} (настройки region и regions)")
        profile = served[region_code]
    if official_of is not None and profile.region.authority(official_of) is None:
        fail(f"орган власти {official_of!r} не найден в профиле региона {profile.code} (см. cur config check)")
    if official_of is not None and any(sp.platform not in ("vk", "telegram", "tgweb") or sp.kind not in ("wall", "channel")
                                       for sp in specs):
        fail("официальной страницей может быть только сообщество или страница VK либо канал Telegram")
    names = _municipality_names(profile)
    if municipality is not None and municipality != "-" and municipality not in names:
        fail(f"муниципалитета {municipality!r} нет в профиле региона; коды: {', '.join(sorted(names))}")
    db = app.ready_db()
    for spec in specs:
        options: dict[str, Any] = {"comments": False} if no_comments and spec.platform == "vk" else {}
        if appeals and spec.platform == "file":
            options["kind"] = "appeals"
        with db.session() as s:
            src, created = get_or_create_source(s, spec.platform, spec.kind, spec.key, url=spec.url,
                                                title=title, options=options, interval_minutes=interval)
            if region_code is not None:
                set_source_region(src, region_code)
            if official_of is not None:
                from pipeline.official import mark_official

                mark_official(s, profile, src, official_of)
            if municipality is not None:
                set_source_municipality(src, None if municipality == "-" else municipality)
            number, default = src.id, src.municipality
        kind = KIND_NAMES.get((spec.platform, spec.kind), spec.kind)
        if official_of is not None:
            kind += f", официальная страница: {profile.region.authority(official_of).name}"  # type: ignore[union-attr]  # checked above
        place = f"; муниципалитет по умолчанию: {names.get(default, default)}" if default else ""
        if created:
            click.echo(f"Источник №{number} добавлен: {spec.url} ({kind}){place}")
        else:
            click.echo(f"Источник уже есть: №{number} {spec.url} ({kind}){place}")


def _municipality_names(app_or_profile: Any) -> dict[str, str]:
    from config import RegionProfile

    profile = app_or_profile if isinstance(app_or_profile, RegionProfile) else app_or_profile.region
    return {m.code: m.name for m in profile.region.municipalities}


def _suggestion_text(sg: Any, names: dict[str, str]) -> str:
    return (f"{names.get(sg.municipality, sg.municipality)} ({sg.municipality}): его называют {sg.posts} "
            f"из {sg.placed} постов с местом")


@sources_group.command("list")
@click.pass_context
def sources_list(ctx: click.Context) -> None:
    """Все источники: последний успешный обход, последняя ошибка, сколько постов собрано, муниципалитет."""
    from pipeline.source_places import suggestions
    from storage.sources import list_sources

    app = get_app(ctx)
    tz = app.region.region.tz
    db = app.ready_db()
    now = datetime.now(tz)
    names = _municipality_names(app)
    with db.session() as s:
        rows = list_sources(s)
        suggested = suggestions(s)
        if not rows:
            click.echo("Источников нет. Добавьте: cur sources add https://vk.com/club123")
            return
        click.echo(f"Источники ({len(rows)}), время — {tz}:")
        for src in rows:
            kind = KIND_NAMES.get((src.platform, src.kind), src.kind)
            if not src.enabled:
                state = "отключён"
            elif src.failing_reason:
                state = f"недоступен: {REASONS.get(src.failing_reason, src.failing_reason)}"
            elif src.retry_after and src.retry_after > now:
                state = f"повтор после {_local(src.retry_after, tz)}"
            else:
                state = _crawl_state(src.last_success_at, src.last_error_at)
            code = (src.options or {}).get("official")
            if code:
                owner = app.region.region.authority(code)
                kind += f", официальная страница: {owner.name if owner else code}"
            click.echo(f"№{src.id} {src.url or src.key} ({kind}{', ' + src.title if src.title else ''})")
            click.echo(f"    состояние: {state}; постов собрано: {src.posts_collected}")
            if app.many_regions:
                region = app.config.regions.get(src.region or app.settings.region)
                click.echo(f"    регион: {region.region.name if region else src.region}")
            click.echo(f"    последний успех: {_local(src.last_success_at, tz)}")
            if src.last_error:
                click.echo(f"    последняя ошибка: {_local(src.last_error_at, tz)} — {src.last_error}")
            else:
                click.echo("    последняя ошибка: —")
            if src.municipality:
                click.echo(f"    муниципалитет по умолчанию: {names.get(src.municipality, src.municipality)}")
            elif src.id in suggested:
                click.echo(f"    муниципалитет не задан; предлагается {_suggestion_text(suggested[src.id], names)} "
                           f"(cur sources add {src.url or src.key} --municipality {suggested[src.id].municipality})")


@sources_group.command("suggest")
@click.option("--apply", "apply_", is_flag=True, help="Задать предложенные муниципалитеты источникам.")
@click.pass_context
def sources_suggest(ctx: click.Context, apply_: bool) -> None:
    """Предложить муниципалитет по умолчанию источникам без него — по местам, которые называют их посты."""
    from pipeline.source_places import suggestions
    from storage.crawl_repo import get_source
    from storage.sources import set_source_municipality

    app = get_app(ctx)
    names = _municipality_names(app)
    with app.ready_db().session() as s:
        found = suggestions(s)
        if not found:
            click.echo("Предложений нет: у источников без муниципалитета мало постов, называющих место.")
            return
        for sid, sg in sorted(found.items()):
            src = get_source(s, sid)
            label = f"№{sid} {src.url or src.key}" if src is not None else f"№{sid}"
            if apply_ and src is not None:
                set_source_municipality(src, sg.municipality)
                click.echo(f"{label}: задан муниципалитет {_suggestion_text(sg, names)}")
            else:
                click.echo(f"{label}: предлагается {_suggestion_text(sg, names)}")


@sources_group.command("remove")
@click.argument("source")
@click.pass_context
def sources_remove(ctx: click.Context, source: str) -> None:
    """Удалить источник (по номеру или адресу). Собранные посты остаются в базе."""
    from storage.sources import remove_source

    db = get_app(ctx).ready_db()
    with db.session() as s:
        src = find_source(s, source)
        if src is None:
            fail(f"источник {source!r} не найден (см. cur sources list)")
        label = f"№{src.id} {src.url or src.key}"
        remove_source(s, src)
    click.echo(f"Источник {label} удалён; собранные посты сохранены.")


@click.command("crawl")
@click.option("--source", "sources", multiple=True, help="Обойти только этот источник (номер или адрес); можно несколько.")
@click.option("-q", "--quiet", is_flag=True, help="Без индикатора хода работы.")
@click.pass_context
def crawl_cmd(ctx: click.Context, sources: tuple[str, ...], quiet: bool) -> None:
    """Собрать новые посты из источников. Прерванный обход продолжается с места остановки."""
    from pipeline.crawl import Collectors, due_sources

    app = get_app(ctx)
    tz = app.region.region.tz
    db = app.ready_db()
    waiting: list[tuple[int, datetime]] = []
    if sources:
        ids = []
        with db.session() as s:
            for text in sources:
                src = find_source(s, text)
                if src is None:
                    fail(f"источник {text!r} не найден (см. cur sources list)")
                ids.append(src.id)
    else:
        ids, waiting = due_sources(db)
    for sid, when in waiting:
        click.echo(f"№{sid}: отложен до {_local(when, tz)} (ограничение частоты запросов)")
    if not ids:
        click.echo("Нечего обходить: нет источников, готовых к обходу.")
        return
    reports = _run_with_progress(db, ids, Collectors(app.settings, default_tz=tz), quiet)
    bad = 0
    for r in reports:
        if r.status == "ok":
            line = f"✓ {r.url}: новых {r.inserted}, изменено {r.edited}, удалено {r.deleted}, запросов {r.requests}"
            if r.problems:
                line += f"; пропущено записей с ошибками: {len(r.problems)}"
            click.echo(line)
            for p in r.problems[:10]:
                click.echo(f"    {p}")
        elif r.status == "retry_later":
            click.echo(f"… {r.url}: новых {r.inserted}; повтор после {_local(r.retry_after, tz)} ({r.message})")
        else:
            bad += 1
            what = "источник недоступен" if r.status == "failing" else "ошибка"
            click.echo(f"✗ {r.url}: {what}: {r.message}; новых {r.inserted}")
    total = sum(r.inserted for r in reports)
    click.echo(f"Итого: источников {len(reports)}, новых постов {total}, с ошибками {bad}.")
    if bad:
        ctx.exit(EXIT_FAILED)


def _run_with_progress(db: Any, ids: list[int], collectors: Any, quiet: bool) -> list[Any]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipeline.crawl import run_crawl

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"),
        TextColumn("постов: {task.fields[posts]}, страниц: {task.fields[pages]}, запросов: {task.fields[requests]}"),
        TimeElapsedColumn(), console=err_console(), disable=quiet, transient=False,
    ) as bar:
        tasks: dict[int, Any] = {}

        def on_progress(r: Any) -> None:
            if r.source_id not in tasks:
                tasks[r.source_id] = bar.add_task(r.url, total=None, posts=0, pages=0, requests=0)
            bar.update(tasks[r.source_id], posts=r.inserted + r.edited + r.deleted, pages=r.pages,
                       requests=r.requests)
            if r.status != "ok":
                label = {"failing": "недоступен", "retry_later": "отложен", "error": "ошибка"}.get(r.status, r.status)
                bar.update(tasks[r.source_id], description=f"{r.url} — {label}")

        reports = run_crawl(db, ids, collectors, on_progress)
        for t in tasks.values():
            bar.update(t, total=1, completed=1)
    return reports


@click.group("telegram")
def telegram_group() -> None:
    """Telegram (MTProto): вход для сборщика."""


@telegram_group.command("login")
@click.option("--api-id", type=int, default=None, help="API id с my.telegram.org (по умолчанию CUR_TELEGRAM_API_ID).")
@click.option("--api-hash", default=None, help="API hash с my.telegram.org (по умолчанию CUR_TELEGRAM_API_HASH).")
@click.option("--phone", default=None, help="Номер телефона аккаунта с кодом страны, например +79001234567 (иначе спросит).")
@click.pass_context
def telegram_login(ctx: click.Context, api_id: int | None, api_hash: str | None, phone: str | None) -> None:
    """Войти в Telegram и напечатать строку сессии (StringSession) для CUR_TELEGRAM_SESSION.

    Код входа придёт в Telegram (или SMS); облачный пароль спрашивается, только если он включён.
    Строка сессии — это доступ к аккаунту: храните её как пароль.
    """
    from pipeline.telegram_login import login

    from .errors import EXIT_USAGE

    settings = get_app(ctx).settings
    api_id = api_id if api_id is not None else settings.telegram_api_id
    api_hash = api_hash or settings.telegram_api_hash
    if not api_id or not api_hash:
        fail("нужны API id и API hash приложения Telegram: получите их на my.telegram.org (API development tools) "
             "и передайте --api-id и --api-hash или CUR_TELEGRAM_API_ID и CUR_TELEGRAM_API_HASH", EXIT_USAGE)  # fmt: skip
    phone = phone or click.prompt("Номер телефона (+7…)", err=True)
    session = login(
        api_id, api_hash, phone,
        code=lambda: click.prompt("Код из Telegram", err=True),
        password=lambda: click.prompt("Облачный пароль Telegram", hide_input=True, err=True),
        client_factory=_telegram_client,
    )  # fmt: skip
    click.echo(session)
    click.echo("Вход выполнен. Строка выше — сессия Telegram: сохраните её в CUR_TELEGRAM_SESSION (или telegram_session в cur.yaml) "
               "и храните как пароль.", err=True)  # fmt: skip


def _telegram_client(api_id: int, api_hash: str) -> Any:
    """The telethon client of ``cur telegram login`` (tests replace it with a fake one)."""
    from pipeline.telegram_login import new_client

    return new_client(api_id, api_hash)
