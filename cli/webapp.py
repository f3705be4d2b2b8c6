"""CLI of the web application: `cur serve`, `cur users add|list`, `cur tokens add|list|revoke`."""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Any, Callable

import click

from pipeline.context import App
from pipeline.errors import ResourceError
from storage.types import utcnow

from .common import chosen_region, fail, get_app, local_time, region_option, setup_logging
from .common import default_actor as _cli_actor
from .errors import EXIT_USAGE, os_reason


def _prepared(ctx: click.Context) -> App:
    """The application with its database migrated and the region's authorities loaded."""
    from pipeline.incidents import sync_authorities

    app = get_app(ctx)
    with app.ready_db().session() as s:
        for profile in app.served:  # every region the deployment serves
            sync_authorities(s, profile)
    return app


def _port_error(e: OSError, host: str, port: int) -> ResourceError | None:
    if e.errno == errno.EADDRINUSE:
        return ResourceError(f"порт {port} на {host} уже занят другой программой: укажите другой (--port N, 0 — любой свободный) "
                             f"или остановите ту программу")
    if e.errno in (errno.EACCES, errno.EADDRNOTAVAIL, errno.EPERM):
        return ResourceError(f"не удалось открыть {host}:{port}: {os_reason(e)}; укажите другой адрес или порт (--host, --port)")
    return None


def _trusted_proxies(app: App, behind_proxy: bool, given: tuple[str, ...]) -> list[str]:
    """The reverse proxies whose X-Forwarded-For is believed: none unless ``--behind-proxy``."""
    import ipaddress

    if given and not behind_proxy:
        fail("--trusted-proxy действует только вместе с --behind-proxy", EXIT_USAGE)
    if not behind_proxy:
        return []
    proxies = list(given) or list(app.settings.web_trusted_proxies) or ["127.0.0.1", "::1"]
    for p in proxies:
        try:
            ipaddress.ip_network(p, strict=False)
        except ValueError:
            fail(f"--trusted-proxy {p}: это не IP-адрес и не сеть (пример: 127.0.0.1 или 10.0.0.0/24)", EXIT_USAGE)
    return proxies


def check_port(app: App, host: str | None, port: int | None) -> None:
    """Fail now, before long work, if the web application's port cannot be opened (``cur demo``)."""
    host = host or app.settings.web_host
    port = app.settings.web_port if port is None else port
    if not port:
        return
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        err = _port_error(e, host, port)
        if err is not None:
            raise err from None
        raise


def scheduler_alongside(app: App, report_dir: Any = None) -> Callable[[], Callable[[], None]]:
    """The scheduler as the web server's background work: started once the site listens, stopped at shutdown."""
    def start() -> Callable[[], None]:
        from pipeline.scheduler import build_scheduler, job_sync_sources

        sched = build_scheduler(app, report_dir=report_dir)
        sched.start()
        job_sync_sources()

        def stop() -> None:
            if sched.running:
                sched.shutdown(wait=True)

        return stop

    return start


def serve_web(app: App, host: str | None, port: int | None, on_started: Callable[[str], None] | None = None, **options: Any) -> None:
    """Serve the web application until Ctrl+C or SIGTERM; a port that cannot be opened is one Russian line (exit 5)."""
    from web.server import serve

    host = host or app.settings.web_host
    port = app.settings.web_port if port is None else port
    try:
        serve(app, host, port, on_started=on_started, **options)
    except OSError as e:
        err = _port_error(e, host, port)
        if err is not None:
            raise err from None
        raise


@click.command("serve")
@click.option("--host", default=None, help="Адрес (по умолчанию web_host из настроек).")
@click.option("--port", type=int, default=None, help="Порт (по умолчанию web_port из настроек).")
@click.option("--scheduler", "with_scheduler", is_flag=True, help="Запустить вместе с планировщиком.")
@click.option("--behind-proxy", is_flag=True,
              help="За обратным прокси: адрес клиента брать из X-Forwarded-For, если запрос пришёл с доверенного адреса прокси.")  # fmt: skip
@click.option("--trusted-proxy", "trusted_proxy", multiple=True, metavar="АДРЕС",
              help="Адрес или сеть доверенного прокси (можно несколько); по умолчанию web_trusted_proxies из настроек, иначе 127.0.0.1 и ::1.")  # fmt: skip
@click.pass_context
def serve_cmd(ctx: click.Context, host: str | None, port: int | None, with_scheduler: bool, behind_proxy: bool, trusted_proxy: tuple[str, ...]) -> None:
    """Запустить веб-приложение (вход — /login, API — /api/). Остановка — Ctrl+C."""
    app = get_app(ctx)
    proxies = _trusted_proxies(app, behind_proxy, trusted_proxy)
    check_port(app, host, port)
    setup_logging(app.region.region.tz)

    def started(url: str) -> None:
        click.echo(f"Веб-приложение запущено: {url}/login  (API: {url}/api/, описание: {url}/api/openapi.json). Остановка — Ctrl+C.")

    if proxies:
        click.echo(f"За прокси: адрес клиента берётся из X-Forwarded-For запросов с {', '.join(proxies)}.")
    serve_web(app, host, port, on_started=started, background=scheduler_alongside(app) if with_scheduler else None, trusted_proxies=proxies)
    click.echo("Веб-приложение остановлено.")


@click.group("users")
def users_group() -> None:
    """Учётные записи веб-приложения."""


@users_group.command("add")
@click.argument("login")
@click.option("--role", required=True, type=click.Choice(["admin", "operator", "specialist", "analyst", "curator"]), help="Роль.")
@click.option("--authority", "authority", default=None, help="Код органа власти (обязателен для специалиста).")
@click.option("--name", "full_name", default=None, help="Имя для показа.")
@click.option("--password-stdin", is_flag=True, help="Прочитать пароль из стандартного ввода.")
@click.option("--temporary", is_flag=True,
              help="Пароль временный: при первом входе пользователь должен задать свой.")  # fmt: skip
@click.option("--region", "region_code", default=None, metavar="КОД_РЕГИОНА",
              help="Регион пользователя, если установка обслуживает несколько (настройка regions): он видит только его. "
                   "Без него — все регионы (федеральный уровень); специалист — всегда регион своего органа власти.")


@click.pass_context
def users_add(
    ctx: click.Context, login: str, role: str, authority: str | None, full_name: str | None, password_stdin: bool, temporary: bool,
    region_code: str | None = None,
) -> None:
    """Создать пользователя. Пароль хранится только в виде хеша argon2."""
    from pipeline.accounts.users import AccountError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get("CUR_NEW_PASSWORD"):
        password = os.environ["CUR_NEW_PASSWORD"]
    else:
        password = click.prompt("Пароль", hide_input=True, confirmation_prompt="Повторите пароль")
    app = _prepared(ctx)
    served = [p.code for p in app.served]
    if region_code is not None and region_code not in served:
        fail(f"регион {region_code!r} не обслуживается: обслуживаются {', '.join(served)} (настройки region и regions)")
    try:
        with app.db.session() as s:
            add_user(s, region_code or app.region.code, login, password, role, authority, utcnow(), _cli_actor(),
                            full_name, must_change_password=temporary, user_region=region_code)
    except AccountError as e:
        fail(str(e))
    click.echo(f"Пользователь «{login}» создан: роль {role}" + (f", орган власти {authority}" if authority else "")
               + (f", регион {region_code}" if region_code else "") + "."
               + (" Пароль временный: при первом входе нужно задать свой." if temporary else ""))  # fmt: skip


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Показать пользователей: логин, роль, орган власти, состояние, последний вход (местное время)."""
    from pipeline.accounts.users import list_users

    app = _prepared(ctx)
    tz = app.region.region.tz
    with app.db.session() as s:
        users = list_users(s)
    if not users:
        click.echo("Пользователей нет. Создайте: cur users add ЛОГИН --role admin")
    for u in users:
        state = ("" if u.is_active else " (отключён)") + (" (временный пароль)" if u.must_change_password else "")
        last = local_time(u.last_login_at, tz) if u.last_login_at else "не входил"
        click.echo(f"{u.login}\t{u.role}\t{u.authority_code or '—'}{state}\t{last}")


@click.group("tokens")
def tokens_group() -> None:
    """Токены API для органов власти."""


@tokens_group.command("add")
@click.argument("authority_code")
@click.option("--label", default=None, help="Пометка (для чего токен).")
@region_option
@click.pass_context
def tokens_add(ctx: click.Context, authority_code: str, label: str | None, region_code: str | None) -> None:
    """Выпустить токен API для органа власти (региона из --region, по умолчанию — основного); токен показывается один раз."""
    from pipeline.accounts.tokens import TokenError, issue_token

    app = _prepared(ctx)
    region = chosen_region(app, region_code)
    try:
        with app.db.session() as s:
            row, token = issue_token(s, region.code, authority_code, utcnow(), _cli_actor(), label)
    except TokenError as e:
        fail(str(e))
    click.echo(token)
    click.echo(
        f"Токен № {row.id} для органа власти {row.authority_code} ({region.region.short_name}) выпущен. Сохраните его: он показан один раз и не хранится в базе (только его хеш). "
        f"Отозвать: cur tokens revoke {row.id}",
        err=True,
    )


@tokens_group.command("list")
@click.option("--authority", "authority_code", default=None, help="Только токены этого органа власти (код).")
@click.option("--active", "only_active", is_flag=True, help="Только действующие (не отозванные).")
@click.option("--dormant", is_flag=True, help="Только действующие, которые не использовались 30 дней (кандидаты на отзыв).")
@region_option
@click.pass_context
def tokens_list(ctx: click.Context, authority_code: str | None, only_active: bool, dormant: bool, region_code: str | None) -> None:
    """Показать токены API: номер, орган власти, пометка, когда выпущен, последнее использование, отозван ли.

    Сами токены не показываются никогда.
    """
    from pipeline.accounts.tokens import DORMANT_AFTER, TokenError, list_tokens

    app = _prepared(ctx)
    region = chosen_region(app, region_code)
    tz = region.region.tz
    now = utcnow()
    try:
        with app.db.session() as s:
            rows = list_tokens(s, region.code, authority_code, "active" if (only_active or dormant) else None, now - DORMANT_AFTER if dormant else None)
    except TokenError as e:
        fail(str(e))
    if not rows:
        click.echo("Токенов нет. Выпустить: cur tokens add КОД_ОРГАНА" if not (authority_code or only_active or dormant) else "Таких токенов нет.")
        return
    click.echo("№\tорган власти\tпометка\tвыпущен\tпоследнее использование\tсостояние")
    for r in rows:
        state = "действует" if r.active else f"отозван {local_time(r.revoked_at, tz)}"
        used = local_time(r.last_used_at, tz) if r.last_used_at else "не использовался"
        click.echo(f"{r.id}\t{r.authority_code}\t{r.label or '—'}\t{local_time(r.created_at, tz)}\t{used}\t{state}")
    click.echo(f"Время — местное ({tz}). Последнее использование записывается с точностью до минуты.", err=True)


@tokens_group.command("revoke")
@click.argument("token_ids", metavar="[НОМЕР]...", nargs=-1, type=int)
@click.option("--authority", "authority_code", default=None, help="Код органа власти: вместе с --all отзывает все его токены.")
@click.option("--all", "revoke_all", is_flag=True, help="Отозвать все действующие токены органа власти из --authority.")
@region_option
@click.pass_context
def tokens_revoke(ctx: click.Context, token_ids: tuple[int, ...], authority_code: str | None, revoke_all: bool,
                  region_code: str | None) -> None:
    """Отозвать токены API по номерам (см. cur tokens list) или все токены органа власти (--authority КОД --all).

    Отзыв действует со следующего запроса к API. Повторный отзыв ничего не меняет.
    """
    from pipeline.accounts.tokens import TokenError, revoke_authority_tokens, revoke_tokens

    if token_ids and (authority_code or revoke_all):
        fail("укажите либо номера токенов, либо --authority КОД --all, но не то и другое вместе", EXIT_USAGE)
    if not token_ids and authority_code and not revoke_all:
        fail(f"чтобы отозвать все токены органа власти {authority_code}, добавьте --all (cur tokens revoke --authority {authority_code} --all)", EXIT_USAGE)
    if not token_ids:
        if not authority_code or not revoke_all:
            fail("укажите номер токена (cur tokens revoke 12) или орган власти со всеми его токенами (cur tokens revoke --authority КОД --all)", EXIT_USAGE)
    app = _prepared(ctx)
    region = chosen_region(app, region_code)
    tz = region.region.tz
    now = utcnow()
    try:
        with app.db.session() as s:
            if token_ids:
                done = revoke_tokens(s, region.code, list(token_ids), now, _cli_actor())
            else:
                done = revoke_authority_tokens(s, region.code, authority_code or "", now, _cli_actor())
    except TokenError as e:
        fail(str(e))
    if not token_ids:
        if not done:
            click.echo(f"У органа власти {authority_code} нет действующих токенов: отзывать нечего.")
        else:
            click.echo(f"Отозвано токенов органа власти {authority_code}: {len(done)} (№ {', '.join(str(r.row.id) for r in done)}).")
        return
    for r in done:
        who = f"№ {r.row.id} ({r.row.authority_code}{', ' + r.row.label if r.row.label else ''})"
        if r.now_revoked:
            click.echo(f"Токен {who} отозван: API отвечает на него 401 начиная со следующего запроса.")
        else:
            click.echo(f"Токен {who} уже был отозван {local_time(r.row.revoked_at, tz)}: ничего не изменено.")
