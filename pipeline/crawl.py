"""The crawl loop: for each source, run its collector and commit every page atomically.

One page = one transaction: upsert the page's posts + save the cursor after them + count new
posts. A crawl killed at any moment resumes from the last committed page (collectors keep their
in-progress state in the cursor), and the idempotent upsert means nothing is stored twice.
Each source's outcome is recorded on it: last success, last error, failing reason, retry after.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable

from collectors.base import CollectorError, CrawlPage, RetryLater, SourceFailing, SourceSpec
from config import Settings
from pipeline.ingest.records import to_record
from storage import Database
from storage.crawl_repo import commit_page, get_source, note_problems
from storage.sources import list_sources, record_failure, record_success
from storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class SourceReport:
    source_id: int
    url: str
    status: str = "ok"  # ok | failing | retry_later | error | skipped
    message: str = ""
    pages: int = 0
    requests: int = 0
    inserted: int = 0
    edited: int = 0
    deleted: int = 0
    problems: list[str] = field(default_factory=list)
    retry_after: datetime | None = None


ProgressHook = Callable[[SourceReport], None]


class Collectors:
    """Builds collectors from settings on first use; one VK client (one token pool) for all VK sources."""

    def __init__(self, settings: Settings, default_tz: tzinfo = timezone.utc, telegram_client: Any = None,
                 **overrides: Any) -> None:
        self.settings = settings
        self.default_tz = default_tz
        self.telegram_client = telegram_client
        self.overrides = overrides  # e.g. vk_backoff for tests
        self._made: dict[str, Any] = {}
        self._closers: list[Any] = []

    async def get(self, platform: str) -> Any:
        if platform in self._made:
            return self._made[platform]
        made = await self._make(platform)
        self._made[platform] = made
        return made

    async def _make(self, platform: str) -> Any:
        s = self.settings
        if platform == "vk":
            from collectors.vk import VkClient, VkClientOptions, VkCollector

            if not s.vk_tokens:
                raise CollectorError("не настроены токены VK: задайте CUR_VK_TOKENS (например user:ТОКЕН)", "config")
            client = VkClient(
                [(t.kind, t.token, t.requests_per_second) for t in s.vk_tokens],
                VkClientOptions(api_url=s.vk_api_url, version=s.vk_api_version,
                                backoff=float(self.overrides.get("vk_backoff", 1.0))),
            )
            self._closers.append(client)
            return VkCollector(client)
        if platform == "tgweb":
            from collectors.tgweb import TgWebCollector

            col = TgWebCollector(s.telegram_web_url, rate=float(self.overrides.get("tgweb_rate", 1.0)))
            self._closers.append(col)
            return col
        if platform == "telegram":
            from collectors.telegram import TelegramCollector

            if self.telegram_client is not None:
                return TelegramCollector(self.telegram_client)
            if not (s.telegram_api_id and s.telegram_api_hash and s.telegram_session):
                raise CollectorError(
                    "не настроен доступ к Telegram API: задайте CUR_TELEGRAM_API_ID, CUR_TELEGRAM_API_HASH и "
                    "CUR_TELEGRAM_SESSION (StringSession) или добавьте канал через веб-просмотр t.me/s/", "config")
            tg = await TelegramCollector.connect(s.telegram_api_id, s.telegram_api_hash, s.telegram_session)
            self._closers.append(tg)
            return tg
        if platform == "file":
            from collectors.fileimport import FileCollector

            return FileCollector(default_tz=self.default_tz)
        raise CollectorError(f"неизвестная платформа {platform!r}")

    async def close(self) -> None:
        for c in self._closers:
            try:
                await c.close()
            except Exception:  # pragma: no cover - closing must not hide the crawl's outcome
                log.exception("closing a collector failed")
        self._closers.clear()
        self._made.clear()


def spec_of(source: Any) -> SourceSpec:
    return SourceSpec(source.platform, source.kind, source.key, source.url or source.key, dict(source.options or {}))


async def crawl_source(db: Database, source_id: int, collectors: Collectors,
                       on_progress: ProgressHook | None = None) -> SourceReport:
    with db.session() as s:
        src = get_source(s, source_id)
        if src is None:
            raise LookupError(f"source {source_id} does not exist")
        spec = spec_of(src)
        cursor = dict(src.cursor.state) if src.cursor is not None else None
    report = SourceReport(source_id, spec.url)
    try:
        collector = await collectors.get(spec.platform)
        page: CrawlPage
        async for page in collector.crawl(spec, cursor):
            with db.session() as s:
                res = commit_page(s, source_id, [to_record(p) for p in page.posts], page.cursor)
            report.pages += 1
            report.requests += page.requests
            report.inserted += res.inserted
            report.edited += res.edited
            report.deleted += res.deleted
            report.problems.extend(page.problems)
            if on_progress:
                on_progress(report)
    except SourceFailing as e:
        report.status, report.message = "failing", str(e)
        _record(db, source_id, report, failing=e.reason_code)
    except RetryLater as e:
        report.status, report.message = "retry_later", str(e)
        report.retry_after = utcnow() + timedelta(seconds=e.seconds)
        _record(db, source_id, report)
    except CollectorError as e:
        report.status, report.message = "error", str(e)
        _record(db, source_id, report)
    except Exception as e:  # an unexpected failure of one source must not stop the others
        log.exception("crawl of %s failed", spec.url)
        report.status, report.message = "error", f"{type(e).__name__}: {e}"
        _record(db, source_id, report)
    else:
        with db.session() as s:
            src = get_source(s, source_id)
            if src is not None:
                record_success(s, src, 0)
                note_problems(s, source_id, report.problems)
    if on_progress:
        on_progress(report)
    return report


def _record(db: Database, source_id: int, report: SourceReport, failing: str | None = None) -> None:
    with db.session() as s:
        src = get_source(s, source_id)
        if src is not None:
            record_failure(s, src, report.message[:2000], failing_reason=failing, retry_after=report.retry_after)


def due_sources(db: Database, now: datetime | None = None) -> tuple[list[int], list[tuple[int, datetime]]]:
    """Enabled sources to crawl now, and those waiting for their retry time."""
    now = now or utcnow()
    due, waiting = [], []
    with db.session() as s:
        for src in list_sources(s, enabled_only=True):
            if src.retry_after is not None and src.retry_after > now:
                waiting.append((src.id, src.retry_after))
            else:
                due.append(src.id)
    return due, waiting


async def crawl(db: Database, source_ids: list[int], collectors: Collectors,
                on_progress: ProgressHook | None = None) -> list[SourceReport]:
    """Crawl the sources one after another; a failing source never stops the others."""
    reports = []
    try:
        for sid in source_ids:
            reports.append(await crawl_source(db, sid, collectors, on_progress))
    finally:
        await collectors.close()
    return reports


def run_crawl(db: Database, source_ids: list[int], collectors: Collectors,
              on_progress: ProgressHook | None = None) -> list[SourceReport]:
    return asyncio.run(crawl(db, source_ids, collectors, on_progress))
