"""Load and cross-check the taxonomy, the deadline policy and region profiles.

A file is validated whole before anything is returned, so a bad file never
half-loads; every problem is reported with file, key, line and reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import ConfigError, ConfigIssue, pydantic_reason
from .schema import (
    FIXED_SECTORS,
    OTHER_CATEGORY,
    AuthorityRole,
    DeadlinePolicy,
    Region,
    Sector,
    Taxonomy,
)
from .settings import Settings, load_settings
from .yamlfile import Lines, dotted, line_of, load_yaml, safe_load

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

MIN_CATEGORIES = 3  # besides «прочее по направлению» (Kuzbass regulation 5.1)


def _validate(model: type[M], path: Path) -> tuple[M, Lines]:
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(path), "", "the file must hold a mapping at the top level")])
    try:
        return model.model_validate(data), lines
    except ValidationError as e:
        issues = []
        for err in e.errors():
            loc = tuple(err["loc"])
            issues.append(ConfigIssue(str(path), dotted(loc), pydantic_reason(err), line_of(lines, loc)))
        raise ConfigError(issues) from None


class _Collector:
    def __init__(self, path: Path, lines: Lines):
        self.path, self.lines = str(path), lines
        self.issues: list[ConfigIssue] = []

    def add(self, loc: tuple[Any, ...], reason: str) -> None:
        self.issues.append(ConfigIssue(self.path, dotted(loc), reason, line_of(self.lines, loc)))


def _check_sectors(sectors: list[Sector], base: tuple[Any, ...], c: _Collector, seen: set[str]) -> None:
    for i, s in enumerate(sectors):
        loc = base + (i,)
        if s.code in seen:
            c.add(loc + ("code",), f"sector code {s.code!r} is defined twice")
        seen.add(s.code)
        codes = [cat.code for cat in s.categories]
        for j, code in enumerate(codes):
            if code in codes[:j]:
                c.add(loc + ("categories", j, "code"), f"category code {code!r} is repeated in sector {s.code!r}")
        if OTHER_CATEGORY not in codes:
            c.add(loc + ("categories",), f"sector {s.code!r} lacks the category {OTHER_CATEGORY!r} («прочее по направлению»)")
        if len(set(codes) - {OTHER_CATEGORY}) < MIN_CATEGORIES:
            c.add(loc + ("categories",), f"sector {s.code!r} needs at least {MIN_CATEGORIES} categories besides {OTHER_CATEGORY!r}")


def load_taxonomy(path: Path) -> Taxonomy:
    taxonomy, lines = _validate(Taxonomy, path)
    c = _Collector(path, lines)
    _check_sectors(taxonomy.sectors, ("sectors",), c, set())
    for code in FIXED_SECTORS:
        if taxonomy.sector(code) is None:
            c.add(("sectors",), f"fixed sector {code!r} is missing")
    for i, s in enumerate(taxonomy.sectors):
        if s.code not in FIXED_SECTORS:
            c.add(("sectors", i, "code"), f"{s.code!r} is not one of the fixed sector codes; a region adds its own blocks under extra_sectors")
    if c.issues:
        raise ConfigError(c.issues)
    return taxonomy


def load_deadlines(path: Path) -> DeadlinePolicy:
    policy, lines = _validate(DeadlinePolicy, path)
    c = _Collector(path, lines)
    _check_policy(policy, (), c)
    if c.issues:
        raise ConfigError(c.issues)
    return policy


def _check_policy(policy: DeadlinePolicy, base: tuple[Any, ...], c: _Collector) -> None:
    stages = {r.stage for r in policy.rules if r.urgency is None}
    for stage in ("first_reply", "interim", "final"):
        if not any(r.stage.value == stage for r in policy.rules):
            c.add(base + ("rules",), f"no deadline rule for stage {stage!r}")
    seen: set[tuple[str, str | None]] = set()
    for i, r in enumerate(policy.rules):
        key = (r.stage.value, r.urgency.value if r.urgency else None)
        if key in seen:
            c.add(base + ("rules", i), f"second rule for stage {key[0]!r} and urgency {key[1]!r}")
        seen.add(key)
    del stages
    if not policy.escalation:
        c.add(base + ("escalation",), "the escalation chain is empty")
    _check_calendar_days(policy, base + ("working_time",), c)


def _check_calendar_days(policy: DeadlinePolicy, base: tuple[Any, ...], c: _Collector) -> None:
    """The operator's day lists: no date twice, none both a day off and a working or short day."""
    wt = policy.working_time
    lists = {"extra_days_off": wt.extra_days_off, "extra_working_days": wt.extra_working_days, "short_days": wt.short_days}
    for name, days in lists.items():
        for i, day in enumerate(days):
            if day in days[:i]:
                c.add(base + (name, i), f"{day.isoformat()} is listed twice in {name}")
    off = set(wt.extra_days_off)
    for name in ("extra_working_days", "short_days"):
        for i, day in enumerate(lists[name]):
            if day in off:
                c.add(base + (name, i), f"{day.isoformat()} is also listed in extra_days_off: a day is either off or worked")


@dataclass(frozen=True)
class RegionProfile:
    """A region with the effective taxonomy and deadline policy."""

    region: Region
    taxonomy: Taxonomy
    deadlines: DeadlinePolicy
    source_file: str = ""
    sectors: list[Sector] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.region.code

    def sector(self, code: str) -> Sector | None:
        for s in self.sectors:
            if s.code == code:
                return s
        return None

    def block_for_sector(self, sector: str):
        for b in self.region.blocks:
            if sector in b.sectors:
                return b
        return None


def load_region(path: Path, taxonomy: Taxonomy, default_deadlines: DeadlinePolicy) -> RegionProfile:
    region, lines = _validate(Region, path)
    c = _Collector(path, lines)
    if region.code != path.stem:
        c.add(("code",), f"region code {region.code!r} must match the file name {path.stem!r}")
    # sectors: fixed ones (minus disabled) plus the region's own blocks
    own: set[str] = set(taxonomy.codes)
    _check_sectors(region.extra_sectors, ("extra_sectors",), c, set(own))
    for i, code in enumerate(region.disabled_sectors):
        if code not in FIXED_SECTORS:
            c.add(("disabled_sectors", i), f"unknown sector {code!r}")
    active = [s for s in taxonomy.sectors if s.code not in region.disabled_sectors] + list(region.extra_sectors)
    active_codes = {s.code for s in active}

    authorities = [a.code for a in region.authorities]
    for i, code in enumerate(authorities):
        if code in authorities[:i]:
            c.add(("authorities", i, "code"), f"authority code {code!r} is defined twice")
    auth_set = set(authorities)
    muni_codes = [m.code for m in region.municipalities]
    for i, code in enumerate(muni_codes):
        if code in muni_codes[:i]:
            c.add(("municipalities", i, "code"), f"municipality code {code!r} is defined twice")
    muni_set = set(muni_codes)

    for i, a in enumerate(region.authorities):
        for j, s in enumerate(a.sectors):
            if s not in active_codes:
                c.add(("authorities", i, "sectors", j), f"unknown or disabled sector {s!r}")
        if a.municipality is not None and a.municipality not in muni_set:
            c.add(("authorities", i, "municipality"), f"unknown municipality {a.municipality!r}")
    for i, m in enumerate(region.municipalities):
        if m.authority is not None and m.authority not in auth_set:
            c.add(("municipalities", i, "authority"), f"unknown authority {m.authority!r}")
    for role in (AuthorityRole.curator, AuthorityRole.executive, AuthorityRole.head, AuthorityRole.media):
        if not any(a.role == role for a in region.authorities):
            c.add(("authorities",), f"the region has no authority with role {role.value!r}")
    covered: set[str] = set()
    for i, b in enumerate(region.blocks):
        if b.head not in auth_set:
            c.add(("blocks", i, "head"), f"unknown authority {b.head!r}")
        for j, s in enumerate(b.sectors):
            if s not in active_codes:
                c.add(("blocks", i, "sectors", j), f"unknown or disabled sector {s!r}")
            covered.add(s)
    for i, r in enumerate(region.routing):
        loc = ("routing", i)
        if r.sector is not None and r.sector not in active_codes:
            c.add(loc + ("sector",), f"unknown or disabled sector {r.sector!r}")
        if r.category is not None:
            sec = next((s for s in active if s.code == r.sector), None)
            if sec is None:
                c.add(loc + ("category",), "a category needs its sector in the same rule")
            elif sec.category(r.category) is None:
                c.add(loc + ("category",), f"sector {r.sector!r} has no category {r.category!r}")
        if r.municipality is not None and r.municipality not in muni_set:
            c.add(loc + ("municipality",), f"unknown municipality {r.municipality!r}")
        if r.authority != "@municipality" and r.authority not in auth_set:
            c.add(loc + ("authority",), f"unknown authority {r.authority!r}")
    if region.deadlines is not None:
        _check_policy(region.deadlines, ("deadlines",), c)
    if c.issues:
        raise ConfigError(c.issues)
    return RegionProfile(
        region=region,
        taxonomy=taxonomy,
        deadlines=region.deadlines or default_deadlines,
        source_file=str(path),
        sectors=active,
    )


@dataclass(frozen=True)
class Configuration:
    settings: Settings
    taxonomy: Taxonomy
    deadlines: DeadlinePolicy
    regions: dict[str, RegionProfile]
    #: Problems of region files that are not the active region: a warning for every command (the
    #: active region still works), an error for ``cur config check``.
    broken_regions: tuple[ConfigIssue, ...] = ()

    @property
    def region(self) -> RegionProfile:
        """The default region (``settings.region``): the one of rows stored without a region."""
        return self.regions[self.settings.region]

    @property
    def served(self) -> list[RegionProfile]:
        """The regions this deployment serves, the default one first (``settings.regions``)."""
        return [self.regions[code] for code in served_codes(self.settings, self.regions)]

    def profile(self, code: str | None) -> RegionProfile:
        """The profile of region ``code`` (None: the default region)."""
        return self.regions[code] if code else self.region


ALL_REGIONS = "all"


def served_codes(settings: Settings, known: Any) -> list[str]:
    """``settings.region`` then the other codes of ``settings.regions`` (``all``: every code in ``known``)."""
    wanted = sorted(known) if ALL_REGIONS in settings.regions else list(settings.regions)
    out = [settings.region]
    for code in wanted:
        if code not in out:
            out.append(code)
    return out


def region_files(settings: Settings) -> list[Path]:
    files = sorted((settings.config_dir / "regions").glob("*.yaml"))
    if settings.regions_dir is not None:
        files += sorted(Path(settings.regions_dir).glob("*.yaml"))
    return files


def load_configuration(settings: Settings | None = None) -> Configuration:
    """Load everything; raise ConfigError listing every problem found."""
    settings = settings or load_settings()
    issues: list[ConfigIssue] = []
    taxonomy = deadlines = None
    try:
        taxonomy = load_taxonomy(settings.config_dir / "taxonomy.yaml")
    except ConfigError as e:
        issues += e.issues
    try:
        deadlines = load_deadlines(settings.config_dir / "deadlines.yaml")
    except ConfigError as e:
        issues += e.issues
    regions: dict[str, RegionProfile] = {}
    broken: list[ConfigIssue] = []
    served = {settings.region, *settings.regions}
    if taxonomy is not None and deadlines is not None:
        for path in region_files(settings):
            try:
                profile = load_region(path, taxonomy, deadlines)
            except ConfigError as e:
                if ALL_REGIONS in served or _declared_code(path) in served:
                    issues += e.issues
                else:
                    broken += e.issues
                    log.warning("region file %s is broken and skipped (%d problems; see `cur config check`)", path, len(e.issues))
                continue
            if profile.code in regions:
                issues.append(ConfigIssue(str(path), "code", f"region {profile.code!r} is defined twice"))
            regions[profile.code] = profile
        if not issues and settings.region not in regions:
            issues.append(
                ConfigIssue("environment/settings", "region", f"unknown region {settings.region!r}; known: {', '.join(sorted(regions))}")
            )
        unknown = [code for code in settings.regions if code != ALL_REGIONS and code not in regions]
        for code in unknown if not issues else ():
            issues.append(ConfigIssue("environment/settings", "regions",
                                      f"unknown region {code!r}; known: {', '.join(sorted(regions))} (or {ALL_REGIONS!r})"))
    if issues:
        raise ConfigError(issues)
    assert taxonomy is not None and deadlines is not None
    return Configuration(settings=settings, taxonomy=taxonomy, deadlines=deadlines, regions=regions,
                         broken_regions=tuple(broken))


def _declared_code(path: Path) -> str:
    """The region code a (possibly broken) region file declares, else its file name without suffix."""
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - unreadable: judge by the file name
        return path.stem
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) and code else path.stem
