"""Typed schema of the shipped configuration: taxonomy, regions, deadline rules.

Every model forbids unknown keys so that a misspelt key is an error, not a
silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import Enum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The fixed sector codes of the product brief. A region may switch some off
#: and add its own blocks, but these codes never change meaning.
FIXED_SECTORS: tuple[str, ...] = (
    "housing",
    "waste",
    "roads",
    "transport",
    "healthcare",
    "education",
    "social",
    "labour",
    "energy",
    "ecology",
    "improvement",
    "construction",
    "industry",
)

#: Category code every sector carries: «прочее по направлению».
OTHER_CATEGORY = "other"

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", min_length=2, max_length=64)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- taxonomy


class Category(_Strict):
    code: Code
    name: NonEmpty
    description: NonEmpty
    #: Where the category comes from (a real rubricator), for the docs.
    source: str | None = None


class Sector(_Strict):
    code: Code
    name: NonEmpty
    description: NonEmpty
    categories: list[Category]

    def category(self, code: str) -> Category | None:
        for c in self.categories:
            if c.code == code:
                return c
        return None


class Taxonomy(_Strict):
    sectors: list[Sector]

    def sector(self, code: str) -> Sector | None:
        for s in self.sectors:
            if s.code == code:
                return s
        return None

    @property
    def codes(self) -> list[str]:
        return [s.code for s in self.sectors]


# --------------------------------------------------------------------------- deadlines


class Urgency(str, Enum):
    high = "high"
    normal = "normal"


class Stage(str, Enum):
    first_reply = "first_reply"
    interim = "interim"
    final = "final"


class WorkingTime(_Strict):
    #: ISO weekdays that are working days (1 = Monday).
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = [1, 2, 3, 4, 5]
    start: time = time(9, 0)
    end: time = time(18, 0)
    #: Country code for the `holidays` package (official days off and
    #: transferred working days).
    calendar: Literal["RU"] = "RU"
    #: Days off the country calendar does not know: a republic's own holidays
    #: (Ураза-байрам, Курбан-байрам in Tatarstan and Bashkortostan) or a day
    #: off by the governor's order.
    extra_days_off: list[date] = []
    #: Days worked although the country calendar or ``weekdays`` make them
    #: days off (a regional transfer, a working Saturday by order).
    extra_working_days: list[date] = []
    #: Working days one hour shorter, besides the eves of public holidays that
    #: Labour Code art. 95 shortens anyway (e.g. the eve of a regional holiday).
    short_days: list[date] = []

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, v: time, info):
        start = info.data.get("start")
        if start is not None and v <= start:
            raise ValueError("end of the working day must be after its start")
        return v


class DeadlineRule(_Strict):
    stage: Stage
    #: None means any urgency; a rule naming the urgency wins over one that does not.
    urgency: Urgency | None = None
    hours: Annotated[float, Field(gt=0)] | None = None
    days: Annotated[float, Field(gt=0)] | None = None
    clock: Literal["working", "calendar"] = "working"
    #: What the countdown starts from.
    after: Literal["routed", "first_reply", "interim"] = "routed"

    @field_validator("days")
    @classmethod
    def _one_amount(cls, v, info):
        if (v is None) == (info.data.get("hours") is None):
            raise ValueError("give exactly one of 'hours' or 'days'")
        return v


class EscalationLevel(_Strict):
    #: Role that receives the escalation (see AuthorityRole).
    role: Literal["specialist", "sector_head", "head", "curator", "executive"]
    #: Hours after the deadline was missed at which this level is notified.
    after_hours: Annotated[float, Field(ge=0)]


class DeadlinePolicy(_Strict):
    working_time: WorkingTime = WorkingTime()
    rules: list[DeadlineRule]
    #: Reminders, in minutes before a deadline.
    reminders_minutes: list[Annotated[int, Field(gt=0)]] = [60]
    escalation: list[EscalationLevel]


# --------------------------------------------------------------------------- regions


class AuthorityRole(str, Enum):
    curator = "curator"  # куратор
    executive = "executive"  # ответственный исполнитель
    tech_operator = "tech_operator"  # технический оператор
    head = "head"  # руководитель ЦУР
    sector_head = "sector_head"  # ответственный за отраслевой блок
    specialist = "specialist"  # специалист / руководитель отраслевого блока
    media = "media"  # ответственный за работу с массмедиа
    ministry = "ministry"  # regional executive body
    municipality = "municipality"  # municipal administration
    organisation = "organisation"  # utility, regional operator, etc.


_OFFICIAL_PAGE = re.compile(r"(?:https?://)?(?:www\.|m\.)?(?:vk\.com|vk\.ru|t\.me)/[A-Za-z0-9_.]+/?|@[A-Za-z0-9_]{5,32}")
_TG_USERNAME = re.compile(r"[A-Za-z0-9_]{5,32}")
_TG_ID = re.compile(r"-?\d{1,20}")


class Authority(_Strict):
    code: Code
    name: NonEmpty
    role: AuthorityRole
    #: Sector codes this authority answers for (sector heads, ministries).
    sectors: list[Code] = []
    #: Municipality code, for municipal administrations.
    municipality: Code | None = None
    email: str | None = None
    telegram_chat_id: str | None = None
    webhook_url: str | None = None
    #: VK ids (numbers; negative for communities) of official accounts whose
    #: replies under a post count as this authority's answer.
    vk_accounts: list[int] = []
    #: Telegram accounts (users or channels) whose replies count as this authority's answer:
    #: usernames («@» optional, any case; stored lower case without «@») or numeric ids
    #: (user ids, ``-100…`` for channels) of accounts that have no public username.
    telegram_accounts: list[str] = []
    #: The authority's official pages (8-ФЗ): VK communities and Telegram channels, as URLs
    #: (``https://vk.com/club123``, ``https://vk.com/name``, ``https://t.me/name``). They become
    #: sources marked official; their posts and the comments under them are rated
    #: (docs/ratings.md «Ведение официальных страниц»).
    official_pages: list[NonEmpty] = []

    @field_validator("official_pages")
    @classmethod
    def _official_pages(cls, v: list[str]) -> list[str]:
        for url in v:
            if not _OFFICIAL_PAGE.fullmatch(url.strip()):
                raise ValueError(f"официальная страница {url!r}: нужен адрес сообщества VK (https://vk.com/club123, "
                                 "https://vk.com/имя) или канала Telegram (https://t.me/имя, @имя)")
        return [url.strip() for url in v]

    @field_validator("telegram_accounts", mode="before")
    @classmethod
    def _telegram_accounts(cls, v: object):
        if not isinstance(v, list):
            return v  # the list type reports it
        out = []
        for i, item in enumerate(v):
            if isinstance(item, int) and not isinstance(item, bool):
                out.append(str(item))
                continue
            text = item.strip() if isinstance(item, str) else None
            if text is not None and _TG_ID.fullmatch(text):
                out.append(str(int(text)))
            elif text is not None and _TG_USERNAME.fullmatch(text.removeprefix("@")):
                out.append(text.removeprefix("@").lower())
            else:
                raise ValueError(
                    f"item {i} ({item!r}) is not a Telegram username (5-32 Latin letters, digits or _, "
                    "«@» optional) nor a numeric account id"
                )
        return out

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None):
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError(f"not an e-mail address: {v!r}")
        return v


class Block(_Strict):
    """A sector block («отраслевой блок») as the regulation names it."""

    code: Code
    name: NonEmpty
    sectors: list[Code] = Field(min_length=1)
    #: Authority code of the person responsible for the block.
    head: Code


class Municipality(_Strict):
    code: Code
    name: NonEmpty
    kind: NonEmpty  # городской округ, муниципальный округ, район, ...
    #: Spellings and inflected forms used to find the place in posts.
    variants: list[NonEmpty] = []
    #: Authority code of the municipal administration.
    authority: Code | None = None
    population: int | None = None
    #: Approximate centre [latitude, longitude] in degrees, for the dashboard's map (general knowledge, not surveyed).
    centroid: tuple[Annotated[float, Field(ge=-90, le=90)], Annotated[float, Field(ge=-180, le=180)]] | None = None


class RoutingRule(_Strict):
    """Maps (sector, category, municipality, urgency) to an authority.

    Empty conditions match anything; the most specific matching rule wins,
    ties go to the earlier rule. ``authority`` may be ``@municipality`` to
    send the incident to the administration of the post's municipality.
    """

    sector: Code | None = None
    category: Code | None = None
    municipality: Code | None = None
    urgency: Urgency | None = None
    authority: Annotated[str, Field(pattern=r"^(@municipality|[a-z][a-z0-9_]*)$")]
    note: str | None = None
    #: A short name shown to users («ЖКХ по муниципалитету»); made from the conditions when left out.
    name: str | None = None


class Region(_Strict):
    code: Code
    name: NonEmpty
    short_name: NonEmpty
    timezone: NonEmpty
    #: The regulation this profile is built from (title, number and date).
    regulation: NonEmpty
    blocks: list[Block] = Field(min_length=1)
    extra_sectors: list[Sector] = []
    disabled_sectors: list[Code] = []
    authorities: list[Authority] = Field(min_length=1)
    municipalities: list[Municipality] = Field(min_length=10)
    routing: list[RoutingRule] = []
    deadlines: DeadlinePolicy | None = None

    @model_validator(mode="after")
    def _centroids(self) -> "Region":
        """Centroids: all municipalities or none, and all within one region (a swapped latitude/longitude shows)."""
        points = [(m.code, m.centroid) for m in self.municipalities]
        given = [(c, p) for c, p in points if p is not None]
        if not given:
            return self
        missing = [c for c, p in points if p is None]
        if missing:
            raise ValueError(f"centroid missing for municipalities {', '.join(missing)} (give all or none)")
        lat0 = sorted(p[0] for _, p in given)[len(given) // 2]
        lon0 = sorted(p[1] for _, p in given)[len(given) // 2]
        far = [c for c, (lat, lon) in given if abs(lat - lat0) > 8 or abs(lon - lon0) > 15]
        if far:
            raise ValueError(f"centroid of {', '.join(far)} is far from the others (latitude and longitude swapped?)")
        return self

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str):
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def authority(self, code: str) -> Authority | None:
        for a in self.authorities:
            if a.code == code:
                return a
        return None

    def municipality(self, code: str) -> Municipality | None:
        for m in self.municipalities:
            if m.code == code:
                return m
        return None
