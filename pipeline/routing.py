"""Routing: which authority answers for an incident, and why.

A region's ``routing`` rules map (sector, category, municipality, urgency) to
an authority. A rule matches when each condition it sets equals the
incident's value (conditions left out match anything). Among matching rules
the most specific wins: the one with more conditions set; a tie goes to
the earlier rule. ``authority: "@municipality"`` means the administration of
the incident's municipality; such a rule cannot apply when the municipality
is unknown or has no administration, and the next best rule is taken.
When no rule applies, the incident goes to the head of the sector's block
(``blocks[].head``), and failing that to the ЦУР head.

``route`` is pure: profile and values in, ``RoutingDecision`` out, with a
Russian explanation listing every rule considered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config import RegionProfile
from config.schema import AuthorityRole, RoutingRule

__all__ = ["RoutingDecision", "RuleCheck", "escalation_authority", "route", "MUNICIPALITY"]

MUNICIPALITY = "@municipality"
FALLBACK_BLOCK = "block_head"
FALLBACK_HEAD = "cur_head"

_FIELDS = (("sector", "направление"), ("category", "категория"), ("municipality", "муниципалитет"), ("urgency", "срочность"))


@dataclass(frozen=True)
class RuleCheck:
    index: int  # 0-based position in the region's routing list
    matched: bool
    specificity: int
    authority: str | None  # resolved authority code, None if it cannot apply
    reason: str  # Russian


@dataclass(frozen=True)
class RoutingDecision:
    authority: str
    #: 0-based index of the winning rule, None when a fallback was used.
    rule_index: int | None
    #: "rule" | "block_head" | "cur_head"
    via: str
    explanation: str
    checks: list[RuleCheck] = field(default_factory=list)

    @property
    def rule_label(self) -> str:
        if self.rule_index is not None:
            return f"rule #{self.rule_index + 1}"
        return self.via


def _describe(rule: RoutingRule) -> str:
    parts = [f"{label}={getattr(rule, name).value if name == 'urgency' else getattr(rule, name)}"
             for name, label in _FIELDS if getattr(rule, name) is not None]
    cond = ", ".join(parts) if parts else "любые условия"
    note = f" ({rule.note})" if rule.note else ""
    return f"[{cond}] → {rule.authority}{note}"


def _value(rule: RoutingRule, name: str) -> str | None:
    v = getattr(rule, name)
    return v.value if hasattr(v, "value") else v


def _check(profile: RegionProfile, i: int, rule: RoutingRule, values: dict[str, str | None]) -> RuleCheck:
    mismatches = []
    specificity = 0
    for name, label in _FIELDS:
        want = _value(rule, name)
        if want is None:
            continue
        specificity += 1
        if values[name] != want:
            mismatches.append(f"{label}: нужно {want}, у инцидента {values[name] or 'не определено'}")
    if mismatches:
        return RuleCheck(i, False, specificity, None, "не подходит — " + "; ".join(mismatches))
    if rule.authority == MUNICIPALITY:
        code = values["municipality"]
        if code is None:
            return RuleCheck(i, False, specificity, None, "не применимо — муниципалитет не определён")
        muni = profile.region.municipality(code)
        if muni is None or muni.authority is None:
            return RuleCheck(i, False, specificity, None, f"не применимо — у муниципалитета {code} нет администрации в профиле")
        return RuleCheck(i, True, specificity, muni.authority, f"подходит (условий: {specificity}) → администрация муниципалитета {muni.authority}")
    return RuleCheck(i, True, specificity, rule.authority, f"подходит (условий: {specificity})")


def route(
    profile: RegionProfile,
    sector: str | None,
    category: str | None,
    municipality: str | None,
    urgency: str | None,
) -> RoutingDecision:
    """The responsible authority for these values, with the reasons."""
    values = {"sector": sector, "category": category, "municipality": municipality, "urgency": urgency}
    rules = profile.region.routing
    checks = [_check(profile, i, r, values) for i, r in enumerate(rules)]
    matching = [c for c in checks if c.matched]
    head = (
        f"Инцидент: направление={sector or '—'}, категория={category or '—'}, "
        f"муниципалитет={municipality or '—'}, срочность={urgency or '—'}.\n"
        f"Правила региона {profile.code} (побеждает самое конкретное подходящее, при равенстве — раньше в списке):"
    )
    lines = [head] + [f"  #{c.index + 1} {_describe(rules[c.index])}: {c.reason}" for c in checks]
    if not rules:
        lines.append("  (в профиле региона нет правил)")
    if matching:
        best = max(matching, key=lambda c: (c.specificity, -c.index))
        ties = [c for c in matching if c.specificity == best.specificity and c.index != best.index]
        why = f"самое конкретное из подходящих ({best.specificity} усл.)"
        if ties:
            why += "; равные по конкретности правила " + ", ".join(f"#{c.index + 1}" for c in ties) + " стоят позже"
        others = [c for c in matching if c.specificity < best.specificity]
        if others:
            why += "; менее конкретные: " + ", ".join(f"#{c.index + 1}" for c in others)
        assert best.authority is not None
        lines.append(f"Сработало правило #{best.index + 1}: {why}. Ответственный: {_name(profile, best.authority)}.")
        return RoutingDecision(best.authority, best.index, "rule", "\n".join(lines), checks)
    block = profile.block_for_sector(sector) if sector else None
    if block is not None:
        lines.append(
            f"Ни одно правило не подошло: ответственный за отраслевой блок «{block.name}» — {_name(profile, block.head)}."
        )
        return RoutingDecision(block.head, None, FALLBACK_BLOCK, "\n".join(lines), checks)
    head_code = next((a.code for a in profile.region.authorities if a.role == AuthorityRole.head), None)
    if head_code is None:  # the loader guarantees a head; keep a clear error anyway
        raise ValueError(f"region {profile.code!r} has no authority with role 'head'")
    reason = "направление не определено" if not sector else f"направление {sector} не входит ни в один отраслевой блок"
    lines.append(f"Ни одно правило не подошло и {reason}: руководитель ЦУР — {_name(profile, head_code)}.")
    return RoutingDecision(head_code, None, FALLBACK_HEAD, "\n".join(lines), checks)


def _name(profile: RegionProfile, code: str) -> str:
    a = profile.region.authority(code)
    return f"{a.name} ({code})" if a else code


def escalation_authority(profile: RegionProfile, role: str, sector: str | None, assigned: str | None) -> str | None:
    """Code of the authority an escalation (or reminder) addressed to ``role`` goes to.

    ``specialist`` — the authority holding the incident (``assigned``); ``sector_head`` —
    the head of the sector's block (the ЦУР head when the sector has no block); any
    other role — the region's first authority with that role. The one place this is
    decided: the deadline watch records it, notifications fall back to it.
    """
    if role == "specialist":
        return assigned
    if role == "sector_head":
        block = profile.block_for_sector(sector or "")
        if block is not None:
            return block.head
        role = "head"
    for a in profile.region.authorities:
        if a.role.value == role:
            return a.code
    return None
