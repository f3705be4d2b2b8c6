"""Emerging problems: a sudden rise of one problem in one place, raised as one alert to the ЦУР head.

For every cell — region × municipality × sector × category of the incidents — the number of new
problem posts (posts in incidents, by publication time) in the sliding **window** (24 h) is compared
with the cell's own **baseline** (the 28 days before the window):

* expected posts in a window: ``λ = (b + 1) · window / baseline`` (``b`` posts in the baseline; the
  ``+ 1`` gives a cell with no history a small rate instead of zero);
* the window's count ``k`` is a spike when ``k ≥ MIN_COUNT`` (5) and the Poisson upper tail
  ``P(X ≥ k | λ) < P_OPEN`` (0.001).

A spike in a cell with no open alert opens **one** alert (``opened`` event; the incidents and posts
of the window; notified to the ЦУР head through the outbox). While it is open, later checks add the
new posts and incidents (``grown`` event) and never open another one. It closes (``closed`` event)
when the window's count is no longer unusual: ``P(X ≥ k | λ) ≥ P_CLOSE`` (0.05) — a gap between the
two thresholds keeps an alert from flapping. See ``docs/alerts.md``.

``check_emerging`` runs after every processing pass (``cur process``) and as the scheduler's
``alerts`` job; it is idempotent for a given clock.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from config import RegionProfile
from storage import alerts as q
from storage import reporting as rq
from storage.incidents import incidents_of_posts
from storage.models_alerts import Alert
from storage.reads import Scope, visible_incidents

from .notify.outbox import enqueue
from .routing import escalation_authority
from .timefmt import local_time

__all__ = ["AlertOptions", "AlertReport", "DEFAULT_ALERTS", "EVENT_NAMES", "STATE_NAMES", "check_emerging",
           "poisson_tail"]

OPENED, GROWN, CLOSED = "opened", "grown", "closed"
EVENT_NAMES = {OPENED: "открыт", GROWN: "новые посты", CLOSED: "закрыт"}
STATE_NAMES = {q.OPEN: "действует", q.CLOSED: "закрыт"}


@dataclass(frozen=True)
class AlertOptions:
    window: timedelta = timedelta(hours=24)
    baseline: timedelta = timedelta(days=28)
    #: A window count is a spike at this Poisson upper-tail probability or below ...
    p_open: float = 0.001
    #: ... with at least this many posts.
    min_count: int = 5
    #: An open alert closes when the window's tail probability is at least this.
    p_close: float = 0.05


DEFAULT_ALERTS = AlertOptions()


def poisson_tail(k: int, lam: float) -> float:
    """``P(X ≥ k)`` for ``X ~ Poisson(lam)`` (summed in log space, from the smaller side)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_lam = math.log(lam)

    def pmf(i: int) -> float:
        return math.exp(-lam + i * log_lam - math.lgamma(i + 1))

    if k > lam:  # the upper tail is the small side: add its terms until they vanish
        total, i = 0.0, k
        while True:
            term = pmf(i)
            total += term
            if term <= total * 1e-16:
                break
            i += 1
        return min(1.0, total)
    return max(0.0, 1.0 - sum(pmf(i) for i in range(k)))


@dataclass
class AlertReport:
    opened: list[int] = field(default_factory=list)
    grown: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)

    def merged(self, other: AlertReport) -> AlertReport:
        """This report and another region's together."""
        return AlertReport(self.opened + other.opened, self.grown + other.grown, self.closed + other.closed)

    def __str__(self) -> str:
        return (f"возникающие проблемы: новых {len(self.opened)}, с новыми постами {len(self.grown)}, "
                f"закрыто {len(self.closed)}")


def _expected(baseline_posts: int, options: AlertOptions) -> float:
    return (baseline_posts + 1) * (options.window / options.baseline)


def _series(session: Session, profile: RegionProfile, cell: q.Cell, now: datetime,
            options: AlertOptions) -> list[list[Any]]:
    """Posts per local day over the baseline and the window, for the chart."""
    tz = profile.region.tz
    since = now - options.window - options.baseline
    days = Counter(at.astimezone(tz).date() for _, _, at in q.cell_posts(session, profile.code, cell, since, now))
    d, end = since.astimezone(tz).date(), now.astimezone(tz).date()
    out: list[list[Any]] = []
    while d <= end:
        out.append([d.isoformat(), days.get(d, 0)])
        d += timedelta(days=1)
    return out


def check_emerging(session: Session, profile: RegionProfile, now: datetime,
                   options: AlertOptions = DEFAULT_ALERTS) -> AlertReport:
    """Open, grow and close the region's alerts for the clock ``now`` (see the module docstring)."""
    report = AlertReport()
    window_from = now - options.window
    counts = {cell: (k, b) for cell, k, b in
              q.cell_counts(session, profile.code, window_from - options.baseline, window_from, now)}
    open_by_cell = {(a.municipality, a.sector, a.category): a for a in q.open_alerts(session, profile.code)}
    for cell, alert in open_by_cell.items():
        k, b = counts.get(cell, (0, 0))
        lam = _expected(b, options)
        p = poisson_tail(k, lam)
        if p >= options.p_close:
            alert.state, alert.closed_at, alert.updated_at = q.CLOSED, now, now
            q.add_event(session, alert, CLOSED, now, {"count": k, "expected": round(lam, 3), "p_value": p})
            report.closed.append(alert.id)
            continue
        posts = q.cell_posts(session, profile.code, cell, window_from, now)
        details = dict(alert.details or {})
        known = set(details.get("posts") or [])
        new = [pid for pid, _, _ in posts if pid not in known]
        if not new:
            continue
        details["posts"] = sorted(known | set(new))
        details["incidents"] = sorted(set(details.get("incidents") or []) | {iid for _, iid, _ in posts})
        details["series"] = _series(session, profile, cell, now, options)
        alert.details = details
        alert.updated_at = now
        if k > alert.count:
            alert.count, alert.expected, alert.p_value = k, lam, p
        q.add_event(session, alert, GROWN, now, {"posts": new, "count": k, "p_value": p})
        report.grown.append(alert.id)
    for cell, (k, b) in counts.items():
        if cell in open_by_cell or k < options.min_count:
            continue
        lam = _expected(b, options)
        p = poisson_tail(k, lam)
        if p >= options.p_open:
            continue
        posts = q.cell_posts(session, profile.code, cell, window_from, now)
        alert = q.add_alert(
            session, region=profile.code, municipality=cell[0], sector=cell[1], category=cell[2], state=q.OPEN,
            opened_at=now, updated_at=now, count=k, expected=lam, p_value=p,
            details={"posts": sorted(pid for pid, _, _ in posts), "incidents": sorted({iid for _, iid, _ in posts}),
                     "series": _series(session, profile, cell, now, options), "baseline_posts": b,
                     "window_hours": options.window.total_seconds() / 3600,
                     "baseline_days": options.baseline.total_seconds() / 86400},
        )
        q.add_event(session, alert, OPENED, now, {"count": k, "expected": round(lam, 3), "p_value": p})
        _notify_head(session, profile, alert, now)
        report.opened.append(alert.id)
    session.flush()
    return report


def describe(profile: RegionProfile, alert: Alert) -> str:
    """«Новокузнецкий городской округ · ЖКХ: отопление» for lists and messages."""
    munis = {m.code: m.name for m in profile.region.municipalities}
    sectors = {s.code: s for s in profile.sectors}
    sector = sectors.get(alert.sector or "")
    sector_name = sector.name if sector is not None else (alert.sector or "направление не определено")
    cat_name = alert.category or "—"
    if sector is not None:
        cat_name = next((c.name for c in sector.categories if c.code == alert.category), cat_name)
    place = munis.get(alert.municipality or "", alert.municipality or "муниципалитет не определён")
    return f"{place} · {sector_name}: {cat_name}"


def _notify_head(session: Session, profile: RegionProfile, alert: Alert, now: datetime) -> None:
    """The ЦУР head hears of a new alert by every channel it has (one message per channel, idempotent)."""
    code = escalation_authority(profile, "head", alert.sector, None)
    head = rq.authority_by_code(session, profile.code, code) if code else None
    if head is None:
        return
    what = describe(profile, alert)
    subject = f"Возникающая проблема: {what}"
    body = (
        f"{what}\n"
        f"За последние {int(AlertOptions().window.total_seconds() // 3600)} ч новых постов о проблеме: {alert.count} "
        f"(обычно {alert.expected:.1f}); вероятность случайного всплеска {alert.p_value:.1e}.\n"
        f"Инцидентов: {len(alert.details.get('incidents') or [])}. Открыт {local_time(now, profile.region.tz)}."
    )
    payload = {"event": "alert_opened", "alert_id": alert.id, "municipality": alert.municipality,
               "sector": alert.sector, "category": alert.category, "count": alert.count,
               "expected": round(alert.expected, 3), "p_value": alert.p_value,
               "incidents": alert.details.get("incidents") or [], "subject": subject, "text": body}
    for channel, recipient in (("email", head.email), ("telegram", head.telegram_chat_id), ("webhook", head.webhook_url)):
        if recipient:
            enqueue(session, channel, recipient, subject, body, payload,
                    dedup_key=f"alert:{alert.id}:opened:{channel}:{head.code}", now=now)


def alert_list(session: Session, profile: RegionProfile, *, state: str | None = q.OPEN, limit: int = 50,
               opened_since: datetime | None = None, opened_before: datetime | None = None,
               scope: Scope | None = None) -> list[dict[str, Any]]:
    """Alerts of the region, newest first, as plain data (the API, the dashboard, the report).

    A restricted ``scope`` (a specialist, an API token of an authority) sees only the alerts that
    concern one of its incidents, with that authority's incidents and their posts only.
    """
    rows = q.list_alerts(session, profile.code, state=state, limit=limit, opened_since=opened_since,
                         opened_before=opened_before)
    if scope is not None and scope.restricted:
        return _scoped(session, scope, _plain(session, profile, rows))
    return _plain(session, profile, rows)


def _scoped(session: Session, scope: Scope, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mine = visible_incidents(session, scope, sorted({i for a in alerts for i in a["incidents"]}))
    post_incident = incidents_of_posts(session, sorted({p for a in alerts for p in a["posts"]}))
    out = []
    for a in alerts:
        incidents = [i for i in a["incidents"] if i in mine]
        if incidents:
            out.append({**a, "incidents": incidents, "posts": [p for p in a["posts"] if post_incident.get(p) in mine]})
    return out


def _plain(session: Session, profile: RegionProfile, rows: list[Alert]) -> list[dict[str, Any]]:
    events: dict[int, list[Any]] = {}
    for e in q.events_of(session, [a.id for a in rows]):
        events.setdefault(e.alert_id, []).append(e)
    out = []
    for a in rows:
        d = a.details or {}
        out.append({
            "id": a.id, "title": describe(profile, a), "municipality": a.municipality, "sector": a.sector,
            "category": a.category, "state": a.state, "opened_at": a.opened_at, "closed_at": a.closed_at,
            "updated_at": a.updated_at, "count": a.count, "expected": round(a.expected, 3), "p_value": a.p_value,
            "incidents": list(d.get("incidents") or []), "posts": list(d.get("posts") or []),
            "series": [(str(day), int(n)) for day, n in (d.get("series") or [])],
            "events": [{"kind": e.kind, "at": e.at, "data": dict(e.data or {})} for e in events.get(a.id, [])],
        })
    return out
