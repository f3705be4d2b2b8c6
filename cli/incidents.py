"""CLI of the incident stage: `cur process`, `cur routing explain`, `cur incidents ...`.

Output is Russian, times are shown in the region's time zone. Every command
that changes an incident takes ``--actor`` (default ``cli:<user>``) and
``--now`` (default: the current time) so a moved clock can be used.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from pipeline.labels import EVENT_NAMES as KIND_NAMES
from pipeline.labels import STATE_NAMES

from .common import chosen_region, default_actor, fail, fmt_time, get_app, parse_now, progress, region_option

actor_opt = click.option("--actor", default=default_actor, show_default="cli:<пользователь>", help="Кто выполняет действие (пишется в журнал).")
now_opt = click.option("--now", "now_s", default=None, help="Текущее время (ISO 8601, по умолчанию — сейчас; без смещения — время региона).")


# ------------------------------------------------------------------ process


@click.command("process")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Не больше стольких постов.")
@now_opt
@click.option("--quiet", is_flag=True, help="Без индикатора выполнения.")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Если посты уже обрабатывает другой процесс — ждать его окончания столько секунд.")
@click.pass_context
def process_cmd(ctx: click.Context, limit: int | None, now_s: str | None, quiet: bool, wait: float) -> None:
    """Один проход обработки: классификация новых постов, инциденты, маршрутизация, ответы, сроки."""
    from pipeline.process import run_pass
    from storage.incidents import count_pending_posts

    app = get_app(ctx)
    now = parse_now(now_s, app.region)
    db = app.ready_db()
    with db.session() as s:
        total = count_pending_posts(s)
    if limit:
        total = min(total, limit)
    with progress(disable=quiet) as bar:
        task = bar.add_task("Обработка постов", total=total)
        result = run_pass(app, now, limit=limit, on_progress=lambda n: bar.advance(task, n), wait=wait)
    click.echo(str(result.posts) + (f"; модель {result.posts.model_version}" if result.posts.model_version else ""))
    rem = sum(1 for a in result.actions if a.kind == "reminder")
    esc = sum(1 for a in result.actions if a.kind == "escalation")
    click.echo(f"Проверка сроков: напоминаний {rem}, эскалаций {esc}.")
    if result.alerts is not None and (result.alerts.opened or result.alerts.grown or result.alerts.closed):
        click.echo(f"{str(result.alerts).capitalize()} (cur alerts).")
    click.echo("Список инцидентов: cur incidents list")


# ------------------------------------------------------------------ routing


@click.group("routing")
def routing_group() -> None:
    """Маршрутизация инцидентов по правилам региона."""


@routing_group.command("explain")
@click.argument("post_id", type=int)
@click.pass_context
def routing_explain(ctx: click.Context, post_id: int) -> None:
    """Какое правило направит пост POST_ID (номер поста в базе) и почему."""
    from pipeline.routing import route
    from storage import incidents as q
    from storage.models import Post

    app = get_app(ctx)
    profile = app.region
    with app.ready_db().session() as s:
        post = s.get(Post, post_id)
        if post is None:
            fail(f"пост №{post_id} не найден")
        incident = q.incident_of_post(s, post_id)
        analysis = q.analysis_for(s, post_id)
        if incident is not None:
            values: tuple[str | None, ...] = (incident.sector, incident.category, incident.municipality, incident.urgency)
            click.echo(f"Пост №{post_id} входит в инцидент №{incident.id}; классификация инцидента:")
        elif analysis is not None:
            values = (analysis.sector, analysis.category, analysis.municipality, analysis.urgency)
            verdict = "проблема" if analysis.relevant else "не проблема"
            if analysis.unsure:
                verdict += ", ждёт проверки оператором"
            click.echo(f"Пост №{post_id}: {verdict} (модель {analysis.model_version}); классификация модели:")
        else:
            fail(f"пост №{post_id} ещё не обработан: выполните `cur process`")
            return
    decision = route(profile, *values)
    click.echo(decision.explanation)


# ------------------------------------------------------------------ incidents


@click.group("incidents")
def incidents_group() -> None:
    """Инциденты: просмотр, объединение, разделение, перенаправление, ответы."""


@incidents_group.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(list(STATE_NAMES)), help="Только в этих состояниях.")
@click.option("--all", "include_merged", is_flag=True, help="Включая объединённые с другими.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@region_option
@click.pass_context
def incidents_list(ctx: click.Context, states: tuple[str, ...], include_merged: bool, limit: int, region_code: str | None) -> None:
    """Последние инциденты региона."""
    from storage import incidents as q
    from storage.models import Authority

    app = get_app(ctx)
    profile = chosen_region(app, region_code)
    with app.ready_db().session() as s:
        rows = q.list_incidents(s, profile.code, states or None, include_merged, limit)
        if not rows:
            click.echo("Инцидентов нет.")
            return
        click.echo(f"{'№':>5}  {'состояние':<16} {'срочн.':<7} {'направление/категория':<32} {'муниципалитет':<20} {'постов':>6}  {'ответ до':<16} исполнитель")
        for inc in rows:
            auth = s.get(Authority, inc.authority_id) if inc.authority_id else None
            due = inc.first_reply_due if inc.first_reply_at is None else inc.final_due
            cls = f"{inc.sector or '—'}/{inc.category or '—'}"
            state = STATE_NAMES.get(inc.state, inc.state) + (" (объед.)" if inc.merged_into_id else "")
            click.echo(
                f"{inc.id:>5}  {state:<16} {('срочно' if inc.urgency == 'high' else 'обычн.'):<7} {cls:<32.32} "
                f"{(inc.municipality or '—'):<20.20} {len(q.post_ids_of(s, inc.id)):>6}  {fmt_time(due, profile):<16} "
                f"{auth.code if auth else '—'}"
            )


@incidents_group.command("show")
@click.argument("incident_id", type=int)
@click.pass_context
def incidents_show(ctx: click.Context, incident_id: int) -> None:
    """Инцидент: классификация, исполнитель, адрес, сроки, посты, ответы и журнал событий."""
    from pipeline.incidents import address_list
    from pipeline.quality_names import QUALITY_NAMES
    from storage import incidents as q
    from storage.models import Authority

    app = get_app(ctx)
    with app.ready_db().session() as s:
        inc = q.get_incident(s, incident_id)
        if inc is None:
            fail(f"инцидент №{incident_id} не найден")
        profile = app.profile_of(inc.region)  # times in the incident's own region's time zone
        auth = s.get(Authority, inc.authority_id) if inc.authority_id else None
        names = {a.id: a.code for a in q.authorities_by_code(s, inc.region).values()}
        click.echo(f"Инцидент №{inc.id}: {inc.title}")
        click.echo(f"  состояние: {STATE_NAMES.get(inc.state, inc.state)}" + (f" (объединён с №{inc.merged_into_id})" if inc.merged_into_id else "")
                   + ("; возможный фейк" if inc.is_possible_fake else ""))
        click.echo(f"  направление: {inc.sector or '—'}, категория: {inc.category or '—'}, муниципалитет: {inc.municipality or '—'}, "
                   f"срочность: {'высокая' if inc.urgency == 'high' else 'обычная'}")
        click.echo(f"  исполнитель: {auth.name + ' (' + auth.code + ')' if auth else '—'}")
        posts = q.posts_of(s, inc.id)
        addresses = address_list(inc.details, (p.text for p in posts))
        if addresses:
            click.echo(f"  {'адрес' if len(addresses) == 1 else 'адреса'}: {'; '.join(a['label'] for a in addresses)}")
        click.echo(f"  сроки ({profile.region.timezone}): первичный ответ до {fmt_time(inc.first_reply_due, profile)} "
                   f"(дан {fmt_time(inc.first_reply_at, profile)}), промежуточный до {fmt_time(inc.interim_due, profile)} "
                   f"(дан {fmt_time(inc.interim_at, profile)}), окончательный до {fmt_time(inc.final_due, profile)} "
                   f"(дан {fmt_time(inc.final_at, profile)})")
        if inc.escalation_level:
            click.echo(f"  уровень эскалации: {inc.escalation_level}")
        click.echo(f"  посты ({len(posts)}):")
        for p in posts:
            text = " ".join((p.text or "").split())
            click.echo(f"    №{p.id} {fmt_time(p.published_at, profile)} {p.source_key} {p.url or ''}\n      {text[:160]}")
        responses = q.responses_of(s, inc.id)
        if responses:
            click.echo("  ответы:")
            for r in responses:
                reading = ""
                if r.quality:
                    reading = f" [{QUALITY_NAMES.get(r.quality, 'качество не определено')}" + (
                        ", требует проверки" if r.quality_review else "") + ("" if r.counted else ", этап не закрыт") + "]"
                click.echo(f"    {fmt_time(r.at, profile)} {KIND_NAMES.get('answer_' + r.kind, r.kind)} ({r.channel}, {r.author}){reading}: {r.text[:160]}")
        click.echo("  журнал:")
        for e in q.events_of(s, inc.id):
            states = f" [{STATE_NAMES.get(e.from_state or '', e.from_state or '—')} → {STATE_NAMES.get(e.to_state or '', e.to_state)}]" if e.to_state else ""
            who = f" → {names.get(e.authority_id, e.authority_id)}" if e.authority_id else ""
            extra = {k: v for k, v in (e.data or {}).items() if k not in ("due", "old_due")}
            click.echo(f"    {fmt_time(e.at, profile)} {KIND_NAMES.get(e.kind, e.kind)}{states}{who} — {e.actor}" + (f" {extra}" if extra else ""))


def _load(s, incident_id: int):
    from storage import incidents as q

    inc = q.get_incident(s, incident_id, lock=True)
    if inc is None:
        fail(f"инцидент №{incident_id} не найден")
    return inc


@incidents_group.command("merge")
@click.argument("target_id", type=int)
@click.argument("other_ids", type=int, nargs=-1, required=True)
@actor_opt
@now_opt
@click.pass_context
def incidents_merge(ctx: click.Context, target_id: int, other_ids: tuple[int, ...], actor: str, now_s: str | None) -> None:
    """Объединить инциденты OTHER_IDS в TARGET_ID (посты переходят в TARGET_ID)."""
    from pipeline.incidents import merge

    app = get_app(ctx)
    now = parse_now(now_s, app.region)
    with app.ready_db().session() as s:
        target = _load(s, target_id)
        merge(s, target, [_load(s, i) for i in other_ids], actor, now)
    click.echo(f"Инциденты {', '.join('№' + str(i) for i in other_ids)} объединены с №{target_id}.")


@incidents_group.command("split")
@click.argument("incident_id", type=int)
@click.argument("post_ids", type=int, nargs=-1, required=True)
@actor_opt
@now_opt
@click.pass_context
def incidents_split(ctx: click.Context, incident_id: int, post_ids: tuple[int, ...], actor: str, now_s: str | None) -> None:
    """Выделить посты POST_IDS инцидента INCIDENT_ID в новый инцидент."""
    from pipeline.incidents import split

    app = get_app(ctx)
    now = parse_now(now_s, app.region)
    with app.ready_db().session() as s:
        inc = _load(s, incident_id)
        new = split(s, inc, list(post_ids), actor, now, profile=app.profile_of(inc.region))
        new_id = new.id
    click.echo(f"Посты {', '.join('№' + str(p) for p in post_ids)} выделены в новый инцидент №{new_id}.")


@incidents_group.command("reroute")
@click.argument("incident_id", type=int)
@click.argument("authority")
@click.option("--reason", required=True, help="Почему инцидент перенаправлен.")
@click.option("--keep-deadlines", is_flag=True, help="Не пересчитывать сроки от момента перенаправления.")
@actor_opt
@now_opt
@click.pass_context
def incidents_reroute(ctx: click.Context, incident_id: int, authority: str, reason: str, keep_deadlines: bool, actor: str, now_s: str | None) -> None:
    """Перенаправить инцидент органу AUTHORITY (код из профиля региона)."""
    from pipeline.incidents import reroute

    app = get_app(ctx)
    now = parse_now(now_s, app.region)
    with app.ready_db().session() as s:
        inc = _load(s, incident_id)
        reroute(s, inc, authority, actor, reason, now, profile=app.profile_of(inc.region), recompute_deadlines=not keep_deadlines)
        due = fmt_time(inc.first_reply_due if inc.first_reply_at is None else inc.final_due, app.profile_of(inc.region))
    click.echo(f"Инцидент №{incident_id} перенаправлен: {authority}. Ближайший срок: {due}.")


@incidents_group.command("answer")
@click.argument("incident_id", type=int)
@click.option("--kind", type=click.Choice(["first_reply", "interim", "final"]), default="first_reply", show_default=True)
@click.option("--text", required=True, help="Текст ответа.")
@click.option("--authority", default=None, help="Код органа, давшего ответ (по умолчанию — исполнитель).")
@actor_opt
@now_opt
@click.pass_context
def incidents_answer(ctx: click.Context, incident_id: int, kind: str, text: str, authority: str | None, actor: str, now_s: str | None) -> None:
    """Записать ответ исполнителя."""
    from pipeline.incidents import record_response

    app = get_app(ctx)
    now = parse_now(now_s, app.region)
    with app.ready_db().session() as s:
        inc = _load(s, incident_id)
        record_response(s, inc, kind, text, actor, "cli", now, authority_code=authority, profile=app.profile_of(inc.region))
    click.echo(f"Ответ записан: инцидент №{incident_id}, {KIND_NAMES['answer_' + kind]}, {fmt_time(now, app.region)}.")


def _simple(name: str, help_text: str, needs_reason: bool, call: Callable[..., Any], done: str) -> None:
    @incidents_group.command(name, help=help_text)
    @click.argument("incident_id", type=int)
    @click.option("--reason" if needs_reason else "--comment", "text", required=needs_reason, default=None,
                  help="Причина." if needs_reason else "Комментарий.")
    @actor_opt
    @now_opt
    @click.pass_context
    def cmd(ctx: click.Context, incident_id: int, text: str | None, actor: str, now_s: str | None) -> None:
        app = get_app(ctx)
        now = parse_now(now_s, app.region)
        with app.ready_db().session() as s:
            inc = _load(s, incident_id)
            call(s, inc, actor, now, text, app.profile_of(inc.region))
        click.echo(f"Инцидент №{incident_id}: {done}.")


def svc():
    from pipeline import incidents

    return incidents

_simple("acknowledge", "Отметить, что исполнитель принял инцидент в работу.", False,
        lambda s, i, a, n, t, p: svc().acknowledge(s, i, a, n), "принят в работу")
_simple("resolve", "Отметить инцидент решённым.", False,
        lambda s, i, a, n, t, p: svc().resolve(s, i, a, n, t), "решён")
_simple("reopen", "Открыть решённый или отклонённый инцидент повторно.", True,
        lambda s, i, a, n, t, p: svc().reopen(s, i, a, n, t, profile=p), "открыт повторно")
_simple("reject", "Отклонить инцидент (не проблема, не наша компетенция).", True,
        lambda s, i, a, n, t, p: svc().reject(s, i, a, n, t), "отклонён")
