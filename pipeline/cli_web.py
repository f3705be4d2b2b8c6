"""CLI of the web application: `cur serve`, `cur users add|list`, `cur tokens add`."""

from __future__ import annotations

import getpass
import logging
import os
import sys

import click

from pipeline.cli import fail, get_app, handle_errors
from storage.types import utcnow


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def _prepared(ctx: click.Context):  # noqa: ANN202
    from web.server import prepare

    app = get_app(ctx)
    prepare(app)
    return app


def register(main: click.Group) -> None:
    @main.command("serve")
    @click.option("--host", default=None, help="Адрес (по умолчанию web_host из настроек).")
    @click.option("--port", type=int, default=None, help="Порт (по умолчанию web_port из настроек).")
    @click.option("--scheduler", "with_scheduler", is_flag=True, help="Запустить вместе с планировщиком.")
    @click.pass_context
    @handle_errors
    def serve_cmd(ctx: click.Context, host: str | None, port: int | None, with_scheduler: bool) -> None:
        """Запустить веб-приложение (вход — /login, API — /api/). Остановка — Ctrl+C."""
        from web.server import serve

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        app = get_app(ctx)
        host = host or app.settings.web_host
        port = app.settings.web_port if port is None else port

        def started(url: str) -> None:
            click.echo(f"Веб-приложение запущено: {url}/login  (API: {url}/api/, описание: {url}/api/openapi.json). Остановка — Ctrl+C.")

        try:
            serve(app, host, port, on_started=started, with_scheduler=with_scheduler)
        except OSError as e:
            fail(f"не удалось открыть {host}:{port}: {e.strerror or e}")
        click.echo("Веб-приложение остановлено.")

    @main.group("users")
    def users_group() -> None:
        """Учётные записи веб-приложения."""

    @users_group.command("add")
    @click.argument("login")
    @click.option("--role", required=True, type=click.Choice(["admin", "operator", "specialist", "analyst", "curator"]), help="Роль.")
    @click.option("--authority", "authority", default=None, help="Код органа власти (обязателен для специалиста).")
    @click.option("--name", "full_name", default=None, help="Имя для показа.")
    @click.option("--password-stdin", is_flag=True, help="Прочитать пароль из стандартного ввода.")
    @click.pass_context
    @handle_errors
    def users_add(ctx: click.Context, login: str, role: str, authority: str | None, full_name: str | None, password_stdin: bool) -> None:
        """Создать пользователя. Пароль хранится только в виде хеша argon2."""
        from web.accounts import AccountError, add_user

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif os.environ.get("CUR_NEW_PASSWORD"):
            password = os.environ["CUR_NEW_PASSWORD"]
        else:
            password = click.prompt("Пароль", hide_input=True, confirmation_prompt="Повторите пароль")
        app = _prepared(ctx)
        try:
            with app.db.session() as s:
                add_user(s, app.region.code, login, password, role, authority, utcnow(), _cli_actor(), full_name)
        except AccountError as e:
            fail(str(e))
        click.echo(f"Пользователь «{login}» создан: роль {role}" + (f", орган власти {authority}" if authority else "") + ".")

    @users_group.command("list")
    @click.pass_context
    @handle_errors
    def users_list(ctx: click.Context) -> None:
        """Показать пользователей."""
        from storage import web_repo

        app = _prepared(ctx)
        with app.db.session() as s:
            users = web_repo.list_users(s)
            names = web_repo.authority_names(s, [u.authority_id for u in users])
            if not users:
                click.echo("Пользователей нет. Создайте: cur users add ЛОГИН --role admin")
            for u in users:
                a = names.get(u.authority_id) if u.authority_id else None
                state = "" if u.is_active else " (отключён)"
                click.echo(f"{u.login}\t{u.role}\t{a.code if a else '—'}{state}")

    @main.group("tokens")
    def tokens_group() -> None:
        """Токены API для органов власти."""

    @tokens_group.command("add")
    @click.argument("authority_code")
    @click.option("--label", default=None, help="Пометка (для чего токен).")
    @click.pass_context
    @handle_errors
    def tokens_add(ctx: click.Context, authority_code: str, label: str | None) -> None:
        """Выпустить токен API для органа власти; токен показывается один раз."""
        from web.accounts import AccountError, add_token

        app = _prepared(ctx)
        try:
            with app.db.session() as s:
                token = add_token(s, app.region.code, authority_code, utcnow(), _cli_actor(), label)
        except AccountError as e:
            fail(str(e))
        click.echo(token)
        click.echo("Сохраните токен: он показан один раз и не хранится в базе (только его хеш).", err=True)
