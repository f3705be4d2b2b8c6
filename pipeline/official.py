"""Official pages of authorities (8-ФЗ; Murmansk 2.7.3–2.7.4, Kherson 2.1.13): collection, figures, rating.

An authority's official VK communities and Telegram channels are sources marked official
(``Source.options["official"]`` = the authority's code): listed in the region profile
(``official_pages`` of an authority, made sources by :func:`sync_official_sources`) or added with
``cur sources add URL --official CODE``. They are crawled like any source (posts and the comments
under them, on the usual cursors). The processing pass (``pipeline/process.py``):

* skips the page's own posts and comments written by the page (or the authority's accounts):
  they are the authority speaking, not residents;
* classifies residents' comments but does not turn them into incidents at once: the page has
  its answer time (the region's first-reply deadline for normal urgency, counted from the
  comment) to answer under the comment;
* :func:`escalate_unanswered`: a problem comment left without an answer by the page — or
  answered only formulaically, by a refusal or rudely (the answer-quality reading,
  ``nlp/answers.py``) — once its answer time has passed, goes through the usual grouping: it
  joins an incident already open about the same problem (from any source), or opens a new one
  routed to the page's authority.

:func:`page_figures` gives per authority and month the figures and the published rating
«ведение официальных страниц» (formula in docs/ratings.md), computed from the stored posts,
their analyses and the text of the page's answers only.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from collectors.sources import SourceUrlError, parse_source_url
from config import RegionProfile
from nlp import answers as quality
from storage import events as ev
from storage import official as oq
from storage.models import Post
from storage.sources import get_or_create_source

from .deadlines import add_rule, select_rule
from .errors import InvalidInput
from .incidents import record_response
from .incidents.replies import telegram_account_keys
from .ratings import Period

#: Weights of the rating «ведение официальных страниц» (docs/ratings.md); terms without data are
#: left out and the others renormalised.
PAGE_WEIGHTS = {"regularity": 0.25, "answered": 0.25, "on_time": 0.30, "substantive": 0.20}
#: How far back the escalation pass looks for unanswered comments.
ESCALATION_LOOKBACK = timedelta(days=30)
ACTOR = "system:official_pages"


@dataclass
class Page:
    authority: str
    source_id: int
    url: str
    keys: set[tuple[str, str]]
    #: ``author_id`` values that are the page itself or the authority's accounts
    accounts: set[str]


def sync_official_sources(session: Session, profile: RegionProfile) -> int:
    """Make sources of the profile's ``official_pages`` (marked official); returns how many were new."""
    new = 0
    for a in profile.region.authorities:
        for url in a.official_pages:
            try:
                spec = parse_source_url(url, telegram_via="tgweb")
            except SourceUrlError:
                continue  # `cur config check` reports it
            src, created = get_or_create_source(session, spec.platform, spec.kind, spec.key, url=spec.url,
                                                options={"official": a.code})
            new += created
            if src.region is None:
                src.region = profile.code  # the page speaks for this region's authority
            if (src.options or {}).get("official") != a.code:
                src.options = {**(src.options or {}), "official": a.code}
    return new


def mark_official(session: Session, profile: RegionProfile, source: Any, authority: str) -> None:
    """``cur sources add URL --official CODE``."""
    if profile.region.authority(authority) is None:
        raise InvalidInput(f"орган власти {authority!r} не найден в профиле региона {profile.code}")
    source.options = {**(source.options or {}), "official": authority}
    if source.region is None:
        source.region = profile.code


def pages(session: Session, profile: RegionProfile) -> list[Page]:
    codes = {a.code for a in profile.region.authorities}
    sources = [s for s in oq.official_sources(session)
               if s.options["official"] in codes and s.region in (None, profile.code)]  # codes repeat across regions
    keys = oq.source_keys_of(session, [s.id for s in sources])
    tg = telegram_account_keys(profile)
    out = []
    for s in sources:
        code = s.options["official"]
        authority = profile.region.authority(code)
        page_keys = set(keys.get(s.id, set()))
        if s.platform == "vk" and s.kind == "wall" and s.key.lstrip("-").isdigit():
            page_keys.add(("vk", s.key))
        accounts = {str(x) for x in (authority.vk_accounts if authority else [])}
        accounts |= {k for k, c in tg.items() if c == code}
        for platform, key in page_keys:
            if platform == "vk" and key.startswith("-"):
                accounts.add(key)  # the community writes as itself
            elif platform in ("telegram", "tgweb"):
                accounts.add(f"@{key.lower().lstrip('@')}")
        out.append(Page(code, s.id, s.url or s.key, page_keys, accounts))
    return out


def page_index(pages_: list[Page]) -> dict[tuple[str, str], Page]:
    return {k: p for p in pages_ for k in p.keys}


def is_page_voice(post: Post, page: Page) -> bool:
    """The page (or its authority) wrote this post or comment."""
    return post.author_id is not None and str(post.author_id) in page.accounts


def is_channel_copy(post: Post) -> bool:
    """A Telegram discussion group's automatic copy of a channel post (``collectors.telegram`` stores it as a
    top-level ``d<id>`` message with ``fwd_from.channel_post``): the channel post again, not another one."""
    if post.platform != "telegram" or not post.external_id.startswith("d"):
        return False
    fwd = (post.raw or {}).get("fwd_from") if isinstance(post.raw, dict) else None
    return isinstance(fwd, dict) and bool(fwd.get("channel_post"))


# --------------------------------------------------------------------------- answers to a comment


def _is_reply_to(answer: Post, comment: Post) -> bool:
    raw = answer.raw if isinstance(answer.raw, dict) else {}
    cid = comment.external_id.rsplit("_", 1)[-1]
    if str(raw.get("reply_to_comment", "")) == cid or cid in {str(x) for x in raw.get("parents_stack") or []}:
        return True
    return str(raw.get("reply_to_post_id", "")) == comment.external_id


@dataclass
class CommentCase:
    """One resident's problem comment on a page, reckoned at ``as_of``."""

    post: Post
    due: datetime
    #: (time, reading) of the page's answers to it, oldest first
    answers: list[tuple[datetime, quality.Reading]]
    #: on_time | late | not_substantive | unanswered | pending
    status: str
    answered_at: datetime | None
    incident_id: int | None = None
    #: the page's answer posts, in the order of ``answers``
    answer_posts: list[Post] = field(default_factory=list)


def _due(profile: RegionProfile, at: datetime) -> datetime:
    rule = select_rule(profile.deadlines, "first_reply", "normal")
    return add_rule(at, rule, profile.deadlines.working_time, profile.region.tz) if rule else at + timedelta(hours=24)


def _counts(r: quality.Reading) -> bool:
    return not (r.quality in quality.NOT_SUBSTANTIVE and not r.unsure)


def comment_cases(session: Session, profile: RegionProfile, page: Page, start: datetime, end: datetime,
                  as_of: datetime) -> list[CommentCase]:
    """Residents' problem comments published in [start, end) on the page, with their answers by ``as_of``."""
    keys = sorted(page.keys)
    comments = oq.page_comments(session, keys, start, end)
    later = oq.page_comments(session, keys, start, as_of + timedelta(seconds=1))
    analyses = oq.latest_analysis_of(session, [c.id for c in comments])
    by_parent: dict[tuple[str, str, str | None], list[Post]] = defaultdict(list)
    for c in later:
        if is_page_voice(c, page) and c.published_at <= as_of:
            by_parent[(c.platform, c.source_key, c.parent_external_id)].append(c)
    problems = [c for c in comments if not is_page_voice(c, page) and (a := analyses.get(c.id)) is not None
                and a.relevant and not a.unsure]
    in_incident = oq.incident_of_posts(session, [c.id for c in problems])
    out = []
    for c in problems:
        due = _due(profile, c.published_at)
        replies = [r for r in by_parent[(c.platform, c.source_key, c.parent_external_id)]
                   if r.published_at >= c.published_at and _is_reply_to(r, c)]
        replies.sort(key=lambda r: (r.published_at, r.id))
        answers = [(r.published_at, quality.read(r.text or "")) for r in replies]
        counted = [t for t, reading in answers if _counts(reading)]
        at = counted[0] if counted else None
        if at is not None:
            status = "on_time" if at <= due else "late"
        elif due > as_of:
            status = "pending"
        else:
            status = "not_substantive" if answers else "unanswered"
        out.append(CommentCase(c, due, answers, status, at, in_incident.get(c.id), replies))
    return out


# --------------------------------------------------------------------------- escalation


@dataclass
class EscalationReport:
    created: int = 0
    joined: int = 0
    incident_ids: list[int] = field(default_factory=list)


def escalate_unanswered(session: Session, profile: RegionProfile, index: Any, now: datetime) -> EscalationReport:
    """Problem comments whose answer time has passed without a substantive answer by the page become
    incidents (or join one) through the grouping ``index`` (``GroupingIndex``); new ones are routed
    to the page's authority."""
    report = EscalationReport()
    for page in pages(session, profile):
        authority = profile.region.authority(page.authority)
        reason = f"проблема из комментария на официальной странице ({page.url}) осталась без ответа по существу"
        cases = comment_cases(session, profile, page, now - ESCALATION_LOOKBACK, now, now)
        due_cases = [c for c in cases if c.status in ("unanswered", "not_substantive") and c.incident_id is None]
        if not due_cases or authority is None:
            continue
        analyses = oq.latest_analysis_of(session, [c.post.id for c in due_cases])
        for case in due_cases:
            a = analyses[case.post.id]
            incident_id, created = index.place(session, case.post, a.sector, a.category, a.urgency or "normal", a.municipality,
                                               now, route_to=(page.authority, reason))
            report.created += created
            report.joined += not created
            report.incident_ids.append(incident_id)
    index.flush(session)
    return report


def record_page_answers(session: Session, profile: RegionProfile, now: datetime) -> list[Any]:
    """The page's answer to a comment that became an incident held by the page's authority is that
    incident's answer (first reply, through the answer-quality gate of ``record_response``), if it came
    after the incident was routed and the incident still waits for a first reply. Each answer once."""
    out = []
    for page in pages(session, profile):
        cases = [c for c in comment_cases(session, profile, page, now - ESCALATION_LOOKBACK, now, now) if c.incident_id]
        if not cases:
            continue
        recorded = oq.recorded_post_ids(session, [p.id for c in cases for p in c.answer_posts])
        for case in cases:
            incident = oq.incident_by_id(session, case.incident_id)
            if incident is None or incident.merged_into_id is not None or incident.routed_at is None:
                continue
            authority = oq.authority_code_of(session, incident.authority_id)
            for answer in case.answer_posts:
                if (answer.id in recorded or authority != page.authority or incident.first_reply_at is not None
                        or incident.state not in ev.ROUTED_OPEN_STATES or answer.published_at < incident.routed_at):
                    continue
                out.append(record_response(session, incident, "first_reply", answer.text or "(ответ в комментарии)",
                                           answer.author or f"{answer.platform}:{answer.author_id}", answer.platform,
                                           min(answer.published_at, now), authority_code=page.authority, post_id=answer.id,
                                           profile=profile))
                recorded.add(answer.id)
    return out


# --------------------------------------------------------------------------- figures and rating


@dataclass
class PageFigures:
    authority: str
    name: str
    pages: list[str]
    posts: int = 0
    days_with_posts: int = 0
    weeks: int = 0
    weeks_with_posts: int = 0
    longest_gap_days: float | None = None
    comments: int = 0
    problems: int = 0
    decided: int = 0
    on_time: int = 0
    late: int = 0
    not_substantive: int = 0
    unanswered: int = 0
    pending: int = 0
    answers: int = 0
    answers_substantive: int = 0
    median_answer_minutes: float | None = None
    to_incidents: int = 0
    rank: int = 0

    @property
    def regularity(self) -> float | None:
        return self.weeks_with_posts / self.weeks if self.weeks else None

    @property
    def answered(self) -> int:
        return self.on_time + self.late

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.decided if self.decided else None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.decided if self.decided else None

    @property
    def substantive_share(self) -> float | None:
        return self.answers_substantive / self.answers if self.answers else None

    @property
    def score(self) -> float | None:
        terms = {"regularity": self.regularity, "answered": self.answered_share, "on_time": self.on_time_share,
                 "substantive": self.substantive_share}
        used = {k: v for k, v in terms.items() if v is not None}
        if not used:
            return None
        return 100 * sum(PAGE_WEIGHTS[k] * v for k, v in used.items()) / sum(PAGE_WEIGHTS[k] for k in used)

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (
            "rank", "authority", "name", "pages", "posts", "days_with_posts", "weeks", "weeks_with_posts", "longest_gap_days",
            "comments", "problems", "decided", "answered", "on_time", "late", "not_substantive", "unanswered", "pending",
            "answers", "answers_substantive", "median_answer_minutes", "to_incidents", "regularity", "answered_share",
            "on_time_share", "substantive_share", "score")}
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def _posting(f: PageFigures, times: list[datetime], period: Period, as_of: datetime, tz: Any) -> None:
    end = min(period.end, as_of)
    f.posts = len(times)
    f.days_with_posts = len({t.astimezone(tz).date() for t in times})
    windows = []
    t = period.start
    while t < end:
        windows.append((t, min(t + timedelta(days=7), end)))
        t += timedelta(days=7)
    f.weeks = len(windows)
    f.weeks_with_posts = sum(any(a <= x < b for x in times) for a, b in windows)
    marks = [period.start, *sorted(times), end]
    f.longest_gap_days = round(max((b - a).total_seconds() for a, b in zip(marks, marks[1:])) / 86400, 2) if end > period.start else None


def page_figures(session: Session, profile: RegionProfile, period: Period, now: datetime) -> list[PageFigures]:
    """Per authority with official pages: the month's figures and the rating, best score first."""
    as_of = min(period.end, now)
    tz = profile.region.tz
    by_authority: dict[str, list[Page]] = defaultdict(list)
    for p in pages(session, profile):
        by_authority[p.authority].append(p)
    rows = []
    for code, plist in by_authority.items():
        authority = profile.region.authority(code)
        f = PageFigures(code, authority.name if authority else code, [p.url for p in plist])
        times: list[datetime] = []
        minutes: list[float] = []
        for page in plist:
            keys = sorted(page.keys)
            times += [p.published_at for p in oq.page_posts(session, keys, period.start, as_of)
                      if (p.author_id is None or is_page_voice(p, page))  # a channel's posts may carry no author
                      and not is_channel_copy(p)]
            f.comments += sum(not is_page_voice(c, page) for c in oq.page_comments(session, keys, period.start, as_of))
            for case in comment_cases(session, profile, page, period.start, as_of, as_of):
                f.problems += 1
                setattr(f, case.status, getattr(f, case.status) + 1)
                f.decided += case.status != "pending"
                f.answers += len(case.answers)
                f.answers_substantive += sum(r.quality == quality.SUBSTANTIVE for _, r in case.answers)
                f.to_incidents += case.incident_id is not None
                if case.answered_at is not None:
                    minutes.append((case.answered_at - case.post.published_at).total_seconds() / 60)
        _posting(f, times, period, as_of, tz)
        f.median_answer_minutes = statistics.median(minutes) if minutes else None
        rows.append(f)
    rows.sort(key=lambda r: (-(r.score if r.score is not None else -1), -r.problems, r.authority))
    for i, r in enumerate(rows, start=1):
        r.rank = i
    return rows
