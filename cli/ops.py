"""CLI of operations: `cur report`, `cur ratings`, `cur notify deliver|status`, `cur run`, `cur worker`, `cur status`."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from .common import chosen_region, fail, get_app, region_option, setup_logging
from .webapp import check_port, scheduler_alongside, serve_web


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


@click.command("report")
@click.option("--month", required=True, help="Месяц отчёта в виде ГГГГ-ММ, например 2026-11.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True, help="Папка для файлов отчёта.")
@click.option("--region", "region_code", default=None, metavar="КОД_РЕГИОНА",
              help="Регион отчёта, если установка обслуживает несколько (по умолчанию — основной; «all» — каждый "
                   "обслуживаемый, в подпапку с его кодом, и сводный отчёт по всем регионам).")
@click.pass_context
def report_cmd(ctx: click.Context, month: str, output: Path, region_code: str | None) -> None:
    """Ежемесячный отчёт для губернатора: HTML и XLSX (по журналу событий инцидентов)."""
    from pipeline.reports import write_report

    app = get_app(ctx)
    served = {p.code: p for p in app.served}
    if region_code is not None and region_code != "all" and region_code not in served:
        fail(f"регион {region_code!r} не обслуживается: обслуживаются {', '.join(served)} (настройки region и regions)")
    wanted = [(app.region, output)] if region_code is None else (
        [(p, output / p.code) for p in served.values()] if region_code == "all" else [(served[region_code], output)])
    db = app.ready_db()
    for profile, folder in wanted:
        with db.session() as s:  # a malformed month is pipeline.errors.InvalidInput: exit 1 with its message
            html, xlsx = write_report(s, profile, month, folder, now_utc())
        click.echo(f"Отчёт за {month} ({profile.region.short_name}) сохранён:\n  {html}\n  {xlsx}" if region_code
                   else f"Отчёт за {month} сохранён:\n  {html}\n  {xlsx}")
    if region_code == "all" and len(served) > 1:
        from pipeline.reports_regions import write_regions_report

        with db.session() as s:
            html, xlsx = write_regions_report(s, served.values(), month, output, now_utc())
        click.echo(f"Сводный отчёт за {month} по всем регионам ({len(served)}) сохранён:\n  {html}\n  {xlsx}")


@click.command("ratings")
@click.option("--month", required=True, help="Месяц в виде ГГГГ-ММ.")
@click.option("--official", "official_pages", is_flag=True,
              help="Рейтинг «ведение официальных страниц» вместо рейтинга исполнителей.")
@region_option
@click.pass_context
def ratings_cmd(ctx: click.Context, month: str, official_pages: bool, region_code: str | None) -> None:
    """Рейтинг исполнителей за месяц (формула — docs/ratings.md); с --official — ведение официальных страниц."""
    from pipeline.ratings import Period, rate

    app = get_app(ctx)
    profile = chosen_region(app, region_code)
    db = app.ready_db()
    period = Period.month(month, profile.region.tz)
    if official_pages:
        _official_ratings(profile, db, period)
        return
    with db.session() as s:
        rows = rate(s, profile.code, period, now_utc())
    if not rows:
        click.echo(f"За {period.label} инцидентов, направленных исполнителям, нет.")
        return

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.0f}%"

    click.echo(f"Рейтинг исполнителей за {period.label} ({profile.region.short_name}):")
    click.echo(f"{'№':>3}  {'балл':>5}  {'напр.':>5}  {'в срок':>6}  {'ответ':>6}  {'решено':>6}  исполнитель")
    for r in rows:
        f = r.figures
        score = "—" if f.score is None else f"{f.score:.1f}"
        click.echo(f"{r.rank:>3}  {score:>5}  {f.routed:>5}  {pct(f.on_time_share):>6}  {pct(f.answered_share):>6}  {pct(f.resolved_share):>6}  {r.name} ({r.code})")


def _official_ratings(profile: Any, db: Any, period: Any) -> None:
    from pipeline.official import page_figures

    with db.session() as s:
        rows = page_figures(s, profile, period, now_utc())
    if not rows:
        click.echo("Официальные страницы органов власти не подключены (профиль региона или cur sources add АДРЕС --official КОД).")
        return

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.0f}%"

    click.echo(f"Ведение официальных страниц за {period.label} ({profile.region.short_name}):")
    click.echo(f"{'№':>3}  {'балл':>5}  {'постов':>6}  {'недель':>6}  {'проблем':>7}  {'отвечено':>8}  {'в срок':>6}  "
               f"{'формально':>9}  {'без ответа':>10}  орган власти")
    for f in rows:
        score = "—" if f.score is None else f"{f.score:.1f}"
        click.echo(f"{f.rank:>3}  {score:>5}  {f.posts:>6}  {f'{f.weeks_with_posts}/{f.weeks}':>6}  {f.problems:>7}  "
                   f"{pct(f.answered_share):>8}  {pct(f.on_time_share):>6}  {f.not_substantive:>9}  {f.unanswered:>10}  {f.name} ({f.authority})")


@click.group("notify")
def notify_group() -> None:
    """Уведомления: очередь отправки (e-mail, Telegram, webhook)."""


@notify_group.command("deliver")
@click.pass_context
def notify_deliver(ctx: click.Context) -> None:
    """Один проход по очереди: отправить уведомления, чей срок отправки наступил."""
    from pipeline.notify import deliver_due, notify_recent, senders_from_settings

    app = get_app(ctx)
    db = app.ready_db()
    now = now_utc()
    with db.session() as s:
        queued = notify_recent(s, app.region, now)
    stats = deliver_due(db, now, senders_from_settings(app.settings))
    click.echo(f"Поставлено в очередь: {queued}; {stats}.")
    for line in stats.errors[:20]:
        click.echo(f"  {line}", err=True)


@notify_group.command("status")
@click.option("--limit", default=10, show_default=True, help="Сколько последних недоставленных показать.")
@click.pass_context
def notify_status(ctx: click.Context, limit: int) -> None:
    """Состояние очереди: сколько ждёт отправки, отправлено, не доставлено; последние ошибки."""
    from pipeline.timefmt import local_time
    from storage import outbox as box

    app = get_app(ctx)
    db = app.ready_db()
    with db.session() as s:
        counts = box.count_by_status(s)
        dead = box.latest(s, "dead", limit)
        pending = [m for m in box.latest(s, "pending", limit) if m.last_error]
        click.echo(
            f"Ожидают отправки: {counts.get('pending', 0)}, отправлено: {counts.get('sent', 0)}, "
            f"не доставлено: {counts.get('dead', 0)}."
        )
        tz = app.region.region.tz
        for title, rows in (("Не доставлены", dead), ("Повторяются после ошибки", pending)):
            if rows:
                click.echo(f"{title}:")
            for m in rows:
                when = local_time(m.next_attempt_at, tz) if m.status == "pending" else local_time(m.created_at, tz)
                click.echo(f"  №{m.id} {m.channel} → {m.recipient} (попыток {m.attempts}, {when}): {m.last_error}")


@click.command("run")
@click.option("--reports", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True, help="Папка ежемесячных отчётов.")
@click.option("--web/--no-web", default=True, show_default=True, help="Запустить вместе с веб-приложением.")
@click.option("--host", default=None, help="Адрес веб-приложения (по умолчанию из настроек).")
@click.option("--port", type=int, default=None, help="Порт веб-приложения (по умолчанию из настроек; 0 — любой свободный).")
@click.pass_context
def run_cmd(ctx: click.Context, report_dir: Path, web: bool, host: str | None, port: int | None) -> None:
    """Запустить планировщик (обход источников, обработка, сроки, уведомления, отчёты) и веб-приложение. Остановка — Ctrl+C или SIGTERM."""
    app = get_app(ctx)
    if web:
        check_port(app, host, port)
    setup_logging(app.region.region.tz)
    if app.settings.broker_url:
        from pipeline.workers import queue_names

        names = ", ".join(queue_names(app.settings.broker_namespace).values())
        click.echo(f"Обход источников, обработка постов и отправка уведомлений передаются обработчикам (cur worker) через брокер задач: очереди {names}.")
    if web:
        def web_started(url: str) -> None:
            from pipeline.scheduler import lease_status

            click.echo(f"Планировщик запущен; веб-приложение: {url}/login. Остановка — Ctrl+C.")
            click.echo(lease_status(app.ready_db(), app.region.region.tz))
            sys.stdout.flush()

        serve_web(app, host, port, on_started=web_started, background=scheduler_alongside(app, report_dir))
        click.echo("Планировщик и веб-приложение остановлены.")
        return

    from pipeline.scheduler import lease_status, run_forever

    def started(sched) -> None:
        jobs = sched.get_jobs()
        click.echo(f"Планировщик запущен: заданий {len(jobs)} ({', '.join(j.name for j in jobs)}). Остановка — Ctrl+C.", err=False)
        # which process runs the jobs: this one, or another `cur run` on the same database (this one stands by)
        click.echo(lease_status(app.ready_db(), app.region.region.tz))
        sys.stdout.flush()

    run_forever(app, on_started=started, report_dir=report_dir)
    click.echo("Планировщик остановлен.")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Вывести цифры в JSON (для мониторинга).")
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Состояние работы: отставание обхода источников, очередь обработки и уведомлений, планировщик и последние запуски заданий.

    Код выхода 0 — всё в порядке, 1 — есть проблемы (перечислены в конце).
    """
    import json

    from pipeline.health import status

    app = get_app(ctx)
    queues: dict[str, int] | None = None
    broker_error: str | None = None
    if app.settings.broker_url:
        from pipeline.workers import queue_depths

        try:
            queues = queue_depths(app.settings)
        except Exception as e:  # noqa: BLE001  (the broker being away is a finding of the status, not its failure)
            broker_error = f"брокер задач недоступен ({type(e).__name__}): проверьте CUR_BROKER_URL и RabbitMQ"
    st = status(app, now_utc(), queues)
    if app.settings.broker_url and broker_error:
        st.problems.append(broker_error)
    if as_json:
        click.echo(json.dumps({"healthy": st.healthy, "problems": st.problems, "notes": st.notes, **st.figures}, ensure_ascii=False, indent=2))
    else:
        for line in st.lines:
            click.echo(line)
        for note in st.notes:
            click.echo(f"Заметка: {note}")
        if st.healthy:
            click.echo("Итог: всё в порядке.")
    if not st.healthy:
        if not as_json:
            click.echo("Итог: есть проблемы:")
            for p in st.problems:
                click.echo(f"  - {p}")
        fail(f"обнаружено проблем: {len(st.problems)}")


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Потоков в процессе. Обработка занимает ядро процессора: для неё запускайте несколько процессов cur worker, а не потоков.")  # fmt: skip
@click.option("--queues", "kinds", default="crawl,process,deliver", show_default=True,
              help="Какие очереди обслуживать (через запятую): crawl — обход источников, process — обработка постов, deliver — отправка уведомлений.")  # fmt: skip
@click.pass_context
def worker_cmd(ctx: click.Context, threads: int, kinds: str) -> None:
    """Запустить обработчик задач (RabbitMQ, CUR_BROKER_URL): обход источников, обработка постов, отправка уведомлений.

    Задачи ставит `cur run`, когда задан CUR_BROKER_URL. Обработчиков может быть сколько угодно, на любых машинах с доступом
    к базе данных и брокеру. Остановка — Ctrl+C или SIGTERM: начатые задачи завершаются, взятые, но не начатые, возвращаются в очередь.
    """
    from pipeline.workers import KINDS, queue_names, run_worker

    from .errors import EXIT_USAGE

    app = get_app(ctx)
    if not app.settings.broker_url:
        fail("не задан адрес брокера задач: укажите CUR_BROKER_URL (например amqp://cur:ПАРОЛЬ@127.0.0.1:5672/%2F)", EXIT_USAGE)
    chosen = tuple(k.strip() for k in kinds.split(",") if k.strip())
    bad = [k for k in chosen if k not in KINDS]
    if bad or not chosen:
        fail(f"неизвестные очереди: {', '.join(bad) or '(пусто)'}; возможны: {', '.join(KINDS)}", EXIT_USAGE)
    setup_logging(app.region.region.tz)
    names = queue_names(app.settings.broker_namespace)

    def started() -> None:
        click.echo(f"Обработчик запущен (pid {os.getpid()}, потоков {threads}); очереди: {', '.join(names[k] for k in chosen)}. Остановка — Ctrl+C.")
        sys.stdout.flush()

    try:
        run_worker(app, threads=threads, kinds=chosen, on_started=started)
    except Exception as e:
        if type(e).__module__.startswith(("pika", "dramatiq")):
            fail(f"брокер задач недоступен ({type(e).__name__}: {e}): проверьте CUR_BROKER_URL и что RabbitMQ запущен", 5)
        raise
    click.echo("Обработчик остановлен.")
