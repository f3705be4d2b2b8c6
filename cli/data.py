"""`cur config check`, `cur db ...`, `cur import`, `cur export posts|incidents`, `cur demo`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pipeline import timefmt
from pipeline.cells import write_csv
from pipeline.context import App, safe_url

from .common import chosen_region, fail, get_app, progress, writable_file
from .errors import EXIT_PARTIAL

# --------------------------------------------------------------------------- config


@click.group("config")
def config_group() -> None:
    """Проверка настроек, таксономии и профилей регионов."""


@config_group.command("check")
@click.pass_context
def config_check(ctx: click.Context) -> None:
    """Проверить все файлы конфигурации; каждая ошибка — с файлом, ключом и причиной."""
    from pipeline.deadlines import calendar_notes, order_conflicts
    from pipeline.labels import STAGE_NAMES

    cfg = get_app(ctx).config
    if cfg.broken_regions:  # other commands only warn: the active region works without them
        from config import ConfigError

        raise ConfigError(list(cfg.broken_regions))
    click.echo(
        f"Конфигурация в порядке: {len(cfg.taxonomy.sectors)} направлений, "
        f"{sum(len(s.categories) for s in cfg.taxonomy.sectors)} категорий; регионы: {', '.join(sorted(cfg.regions))}; "
        f"активный регион: {cfg.settings.region}."
    )
    # deadline policies: the default one (in the active region's zone) and each region's own
    policies = [(str(cfg.settings.config_dir / "deadlines.yaml"), "", cfg.deadlines, cfg.region.region.tz)]
    policies += [
        (p.source_file, "deadlines.", p.region.deadlines, p.region.tz)
        for _, p in sorted(cfg.regions.items()) if p.region.deadlines is not None
    ]
    urgency_names = {"high": "срочных", "normal": "обычных"}
    what = {
        "extra_days_off": "уже выходной по производственному календарю",
        "extra_working_days": "уже рабочий день по производственному календарю",
        "short_days": "нерабочий день, сокращать нечего",
    }
    warnings = []
    for file, key, policy, tz in policies:
        def at(moment, tz=tz):
            return timefmt.local(moment, tz)

        for c in order_conflicts(policy, tz):
            warnings.append(
                f"{file}: {key}rules: для {urgency_names.get(c.urgency, c.urgency)} инцидентов "
                f"{STAGE_NAMES[c.later]} может быть назначен раньше, чем {STAGE_NAMES[c.earlier]} "
                f"({c.count} из {c.checked} проверенных моментов направления), например: направлен {at(c.start)}, "
                f"{STAGE_NAMES[c.earlier]} — до {at(c.earlier_due)}, {STAGE_NAMES[c.later]} — до {at(c.later_due)} "
                f"({tz.key}). Такой срок поднимается до срока предыдущего этапа; считайте этап после "
                f"предыдущего (after: {c.earlier}) или на тех же часах (clock)."
            )
        for name, day in calendar_notes(policy.working_time):
            warnings.append(f"{file}: {key}working_time.{name}: {day.isoformat()} — {what[name]}.")
    for w in warnings:
        click.echo(f"Предупреждение: {w}", err=True)


# --------------------------------------------------------------------------- db


@click.group("db")
def db_group() -> None:
    """База данных: миграции."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Версия схемы.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Создать или обновить схему базы данных (миграции Alembic)."""
    app = get_app(ctx)
    app.db.upgrade(revision, default_region=app.settings.region)
    click.echo(f"Схема базы данных обновлена до версии {app.db.current_revision()} ({safe_url(app.db.url)}).")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="Описание изменения схемы.")
@click.pass_context
def db_revision(ctx: click.Context, message: str) -> None:
    """Для разработчиков: создать миграцию Alembic по изменениям моделей (autogenerate)."""
    from alembic import command

    from storage.db import alembic_config

    app = get_app(ctx)
    app.ready_db()
    cfg = alembic_config(app.db.url)
    with app.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


@db_group.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Показать текущую версию схемы."""
    app = get_app(ctx)
    click.echo(app.db.current_revision() or "схема не создана")


# --------------------------------------------------------------------------- import / export


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", "default_source", default="", help="Источник для строк без поля source.")
@click.option("--kind", type=click.Choice(["posts", "appeals"]), default="posts", show_default=True,
              help="appeals — обращения с платформы обратной связи: это проблемы по определению, "
                   "классификатор не решает, проблема ли это.")
@click.option("--quiet", is_flag=True, help="Без индикатора выполнения.")
@click.pass_context
def import_cmd(ctx: click.Context, files: tuple[Path, ...], default_source: str, kind: str, quiet: bool) -> None:
    """Загрузить посты из файлов JSONL или CSV (поля: id, source, author, date, text, url).

    Плохие строки пропускаются и перечисляются с номерами; повторная загрузка
    ничего не сохраняет дважды.
    """
    from pipeline.importer import import_file

    app = get_app(ctx)
    db = app.ready_db()
    tz = app.region.region.tz
    total_bad = 0
    for path in files:
        try:
            with progress(disable=quiet) as bar:
                task = bar.add_task(f"Загрузка {path.name}", total=_count_lines(path))
                report = import_file(db, path, tz, default_source, on_progress=lambda n: bar.advance(task, n), kind=kind)  # noqa: B023  (called within this iteration)
        except ValueError as e:
            fail(str(e))
        s = report.stored
        click.echo(
            f"{path}: новых постов {s.inserted}, изменённых {s.edited}, удалённых {s.deleted}, "
            f"уже загруженных {s.unchanged}, пропущено строк с ошибками {report.bad_count}."
        )
        for bad in report.bad[:50]:
            click.echo(f"  {path}: {bad}", err=True)
        if report.bad_count > 50:
            click.echo(f"  … и ещё {report.bad_count - 50} строк с ошибками", err=True)
        total_bad += report.bad_count
    if total_bad:
        ctx.exit(EXIT_PARTIAL)


@click.group("export")
def export_group() -> None:
    """Выгрузка данных в JSONL или CSV."""


POST_FIELDS = ["id", "source", "platform", "author", "date", "text", "url", "parent_id", "edited_at", "deleted"]


def write_rows(rows: Any, fmt: str, fields: list[str], output: Path | None) -> int:
    """JSONL or CSV. CSV cells go through ``pipeline.cells`` (no formulas when opened in Excel); the quoting is
    reversible and ``cur import`` undoes it, so ``export posts --format csv`` reads back unchanged."""
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    n = 0
    try:
        if fmt == "csv":
            n = write_csv(out, rows, fields)
        else:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    finally:
        if output:
            out.close()
    return n


@export_group.command("posts")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Файл (по умолчанию — стандартный вывод).")
@click.pass_context
def export_posts(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Выгрузить все посты (тот же формат, что принимает `cur import`)."""
    from storage import iter_posts, post_to_dict

    if output:
        writable_file(output)
    app = get_app(ctx)
    db = app.ready_db()
    with db.session() as s:
        n = write_rows((post_to_dict(p) for p in iter_posts(s)), fmt, POST_FIELDS, output)
    if output:
        click.echo(f"Выгружено постов: {n} → {output}", err=True)


@export_group.command("incidents")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Файл (по умолчанию — стандартный вывод).")
@click.option("--region", "region_code", default=None, metavar="КОД_РЕГИОНА",
              help="Регион, если установка обслуживает несколько (по умолчанию — основной; «all» — все обслуживаемые, "
                   "с полем region).")
@click.pass_context
def export_incidents(ctx: click.Context, fmt: str, output: Path | None, region_code: str | None) -> None:
    """Выгрузить инциденты: классификация, исполнитель, статус, посты, сроки (*_due) и время (ISO 8601 со смещением пояса региона)."""
    from pipeline.reports import EXPORT_FIELDS, iter_incident_rows

    if output:
        writable_file(output)
    app = get_app(ctx)
    profiles = list(app.served) if region_code == "all" else [chosen_region(app, region_code)]
    db = app.ready_db()
    with db.session() as s:
        if region_code == "all":  # every region's own times, its code in the first field
            rows = ({"region": p.code, **row} for p in profiles for row in iter_incident_rows(s, p))
            n = write_rows(rows, fmt, ["region", *EXPORT_FIELDS], output)
        else:
            n = write_rows(iter_incident_rows(s, profiles[0]), fmt, EXPORT_FIELDS, output)
    if output:
        click.echo(f"Выгружено инцидентов: {n} → {output}", err=True)


# --------------------------------------------------------------------------- demo


@click.command("demo")
@click.option("--database", default="sqlite:///cur-demo.db", show_default=True, help="База данных демонстрации.")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Открыть веб-приложение после обработки.")
@click.option("--host", default=None, help="Адрес веб-приложения.")
@click.option("--port", type=int, default=None, help="Порт веб-приложения (0 — любой свободный).")
@click.pass_context
def demo(ctx: click.Context, database: str, serve: bool, host: str | None, port: int | None) -> None:
    """Демонстрация: база, пример постов, классификация, инциденты, отчёт и веб-приложение с учётными записями."""
    from config import load_settings
    from pipeline.demo import run_demo

    from .webapp import check_port, serve_web

    if serve:  # a taken port is found before the demo's work, not after
        check_port(App(settings=load_settings().model_copy(update={"database_url": database})), host, port)
    app = run_demo(database, say=click.echo)
    if not serve:
        return

    def started(url: str) -> None:
        click.echo(f"6. Веб-приложение запущено: {url}/login — остановка Ctrl+C.")

    serve_web(app, host, port, on_started=started)
