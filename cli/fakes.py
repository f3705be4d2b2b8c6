"""`cur fakes add|list|import|remove|tune|threshold`: the registry of debunked claims (see docs/fakes.md)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline import timefmt
from storage.types import utcnow

from .common import default_actor, get_app
from .errors import EXIT_PARTIAL


@click.group("fakes")
def fakes_group() -> None:
    """Реестр опровергнутых утверждений: посты, повторяющие их, помечаются «возможный фейк»."""


@fakes_group.command("add")
@click.option("--claim", required=True, help="Опровергнутое утверждение (не меньше трёх слов).")
@click.option("--refutation", required=True, help="Текст опровержения.")
@click.option("--link", default="", help="Ссылка на опровержение (http:// или https://).")
@click.pass_context
def fakes_add(ctx: click.Context, claim: str, refutation: str, link: str) -> None:
    """Добавить утверждение в реестр."""
    from pipeline.fakes import add_claim

    app = get_app(ctx)
    with app.ready_db().session() as s:
        c = add_claim(s, claim, refutation, link, default_actor(), utcnow(), via="cli")
        click.echo(f"Утверждение №{c.id} в реестре: новые посты будут сравниваться с ним при обработке.")


@fakes_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Вместе со снятыми с учёта.")
@click.pass_context
def fakes_list(ctx: click.Context, show_all: bool) -> None:
    """Утверждения реестра, метки по ним и действующий порог."""
    from pipeline.fakes import current_threshold, list_claims
    from storage import fakes as repo

    app = get_app(ctx)
    tz = app.region.region.tz
    with app.ready_db().session() as s:
        claims = list_claims(s, active_only=not show_all)
        counts = repo.claim_mark_counts(s)
        threshold = current_threshold(s)
        if not claims:
            click.echo('Реестр пуст. Добавьте: cur fakes add --claim "…" --refutation "…" --link https://…')
            return
        for c in claims:
            n = counts.get(c.id, {"waiting": 0, "confirmed": 0, "dismissed": 0})
            state = "" if c.is_active else " [снято с учёта]"
            click.echo(f"№{c.id}{state}: {c.claim}")
            click.echo(f"    опровержение: {c.refutation}" + (f" — {c.link}" if c.link else ""))
            click.echo(f"    добавил {c.added_by}, {timefmt.local_time(c.created_at, tz)}; метки: ждут {n['waiting']}, "
                       f"подтверждены {n['confirmed']}, отклонены {n['dismissed']}")
        click.echo(f"Порог сходства: {threshold:.3f}")


@fakes_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def fakes_import(ctx: click.Context, file: Path) -> None:
    """Загрузить утверждения из CSV (claim, refutation, link; можно «утверждение», «опровержение», «ссылка») или JSONL.

    Плохие строки перечисляются с номерами, остальные загружаются; повторная загрузка ничего не дублирует.
    """
    from pipeline.fakes import import_claims

    app = get_app(ctx)
    with app.ready_db().session() as s:
        report = import_claims(s, file, default_actor(), utcnow())
    click.echo(f"{file}: добавлено утверждений {report.added}, уже были в реестре {report.known}, строк с ошибками {len(report.bad)}.")
    for line in report.bad:
        click.echo(f"  {file}: {line}", err=True)
    if report.bad:
        ctx.exit(EXIT_PARTIAL)


@fakes_group.command("remove")
@click.argument("claim_id", type=int)
@click.pass_context
def fakes_remove(ctx: click.Context, claim_id: int) -> None:
    """Снять утверждение с учёта (новые посты с ним не сравниваются; метки остаются)."""
    from pipeline.fakes import remove_claim

    app = get_app(ctx)
    with app.ready_db().session() as s:
        remove_claim(s, claim_id, default_actor(), utcnow(), via="cli")
    click.echo(f"Утверждение №{claim_id} снято с учёта.")


@fakes_group.command("tune")
@click.pass_context
def fakes_tune(ctx: click.Context) -> None:
    """Подобрать порог сходства по решениям операторов: максимум F1 на подтверждённых и отклонённых метках;
    если метки сразу над порогом почти все подтверждены, порог снижается на шаг 0.05."""
    from pipeline.fakes import current_threshold, threshold_change, tune_threshold

    app = get_app(ctx)
    with app.ready_db().session() as s:
        before = current_threshold(s)
        row = tune_threshold(s, default_actor(), utcnow())
        click.echo(f"Порог сходства: {threshold_change(before, row.threshold)} (по {row.decided} решениям: точность {row.precision:.2f}, "
                   f"полнота {row.recall:.2f}, F1 {row.f1:.2f}). Действует со следующей обработки.")


@fakes_group.command("threshold")
@click.argument("value", type=float)
@click.pass_context
def fakes_threshold(ctx: click.Context, value: float) -> None:
    """Задать порог сходства вручную (от 0.30 до 0.95)."""
    from pipeline.fakes import set_threshold

    app = get_app(ctx)
    with app.ready_db().session() as s:
        set_threshold(s, value, default_actor(), utcnow())
    click.echo(f"Порог сходства: {value:.3f}. Действует со следующей обработки.")
