"""`cur alerts`: emerging problems (spikes of one problem in one place), listed or checked now."""

from __future__ import annotations

import click

from .common import chosen_region, fmt_time, get_app, parse_now, region_option


@click.command("alerts")
@click.option("--all", "show_all", is_flag=True, help="Показать и закрытые (по умолчанию — только действующие).")
@click.option("--check", is_flag=True, help="Сначала проверить всплески сейчас (как после прохода обработки).")
@click.option("--now", "now_s", default=None, help="Текущее время для --check (ISO 8601; без смещения — время региона).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Не больше стольких.")
@region_option
@click.pass_context
def alerts_cmd(ctx: click.Context, show_all: bool, check: bool, now_s: str | None, limit: int, region_code: str | None) -> None:
    """Возникающие проблемы: всплеск новых постов о проблеме в муниципалитете × направлении × категории
    за 24 часа против своей базы за 28 дней (формула — docs/alerts.md)."""
    from pipeline.alerts import EVENT_NAMES, STATE_NAMES, check_emerging, describe
    from storage import alerts as q

    app = get_app(ctx)
    profile = chosen_region(app, region_code)
    with app.ready_db().session() as s:
        if check:
            click.echo(str(check_emerging(s, profile, parse_now(now_s, profile))).capitalize() + ".")
        rows = q.list_alerts(s, profile.code, state=None if show_all else q.OPEN, limit=limit)
        if not rows:
            click.echo("Возникающих проблем нет." if not show_all else "Возникающих проблем не было.")
            return
        events: dict[int, list] = {}
        for e in q.events_of(s, [a.id for a in rows]):
            events.setdefault(e.alert_id, []).append(e)
        for a in rows:
            click.echo(f"№{a.id} {describe(profile, a)} — {STATE_NAMES.get(a.state, a.state)}")
            click.echo(f"    постов за окно: {a.count} (ожидалось {a.expected:.1f}, p = {a.p_value:.1e}); "
                       f"инцидентов: {len(a.details.get('incidents') or [])}, постов: {len(a.details.get('posts') or [])}")
            incidents = ", ".join(f"№{i}" for i in (a.details.get("incidents") or [])[:10])
            if incidents:
                click.echo(f"    инциденты: {incidents}")
            for e in events.get(a.id, []):
                click.echo(f"    {fmt_time(e.at, profile)}: {EVENT_NAMES.get(e.kind, e.kind)}")
