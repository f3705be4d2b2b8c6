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

__all__ = ["RoutingDecision", "RuleCheck", "escalation_authority", "route", "rule_name", "MUNICIPALITY"]

MUNICIPALITY = "@municipality"
FALLBACK_BLOCK = "block_head"
FALLBACK_HEAD = "cur_head"

_FIELDS = (("sector", "направление"), ("category", "категория"), ("municipality", "муниципалитет"), ("urgency", "срочность"))
_URGENCY = {"high": "срочно", "normal": "обычная", "low": "низкая"}


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
    #: one line in words: «ЖКХ → Администрация города Новокузнецка: правило «ЖКХ по муниципалитету»»
    summary: str = ""

    @property
    def rule_label(self) -> str:
        if self.rule_index is not None:
            return f"правило №{self.rule_index + 1}"
        return {FALLBACK_BLOCK: "ответственный за отраслевой блок", FALLBACK_HEAD: "руководитель ЦУР"}.get(self.via, self.via)


def _word(profile: RegionProfile, name: str, value: str | None) -> str:
    """A condition's value in words (the profile's names, not codes)."""
    if value is None:
        return "не определено"
    if name == "sector":
        s = profile.sector(value)
        return s.name if s else value
    if name == "category":
        for s in profile.sectors:
            c = s.category(value)
            if c is not None:
                return c.name
        return value
    if name == "municipality":
        m = profile.region.municipality(value)
        return m.name if m else value
    if name == "urgency":
        return _URGENCY.get(value, value)
    return value


def rule_name(profile: RegionProfile, rule: RoutingRule) -> str:
    """The rule's name: its own ``name``, else made from its conditions: «ЖКХ по муниципалитету», «ЖКХ: Капитальный ремонт»."""
    if rule.name:
        return rule.name
    parts = []
    if rule.sector:
        parts.append(_word(profile, "sector", rule.sector))
    if rule.category:
        cat = _word(profile, "category", rule.category)
        parts[-1:] = [f"{parts[-1]}: {cat}"] if parts else [cat]
    if rule.municipality:
        parts.append(_word(profile, "municipality", rule.municipality))
    if rule.urgency is not None:
        parts.append("срочные" if rule.urgency.value == "high" else f"срочность {_word(profile, 'urgency', rule.urgency.value)}")
    cond = ", ".join(parts) if parts else "все инциденты"
    if rule.authority == MUNICIPALITY:
        return f"{cond} по муниципалитету"
    return f"{cond} → {_short(profile, rule.authority)}"


def _describe(profile: RegionProfile, rule: RoutingRule) -> str:
    parts = [f"{label} «{_word(profile, name, _value(rule, name))}»" for name, label in _FIELDS if getattr(rule, name) is not None]
    cond = ", ".join(parts) if parts else "любые условия"
    target = "администрация муниципалитета" if rule.authority == MUNICIPALITY else _short(profile, rule.authority)
    note = f" ({rule.note})" if rule.note else ""
    return f"«{rule_name(profile, rule)}» [{cond}] → {target}{note}"


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
            mismatches.append(f"{label}: нужно «{_word(profile, name, want)}», у инцидента «{_word(profile, name, values[name])}»")
    if mismatches:
        return RuleCheck(i, False, specificity, None, "не подходит — " + "; ".join(mismatches))
    if rule.authority == MUNICIPALITY:
        code = values["municipality"]
        if code is None:
            return RuleCheck(i, False, specificity, None, "не применимо — муниципалитет не определён")
        muni = profile.region.municipality(code)
        if muni is None or muni.authority is None:
            return RuleCheck(i, False, specificity, None, f"не применимо — у муниципалитета «{_word(profile, 'municipality', code)}» нет администрации в профиле")
        return RuleCheck(i, True, specificity, muni.authority, f"подходит (условий: {specificity}) → {_short(profile, muni.authority)}")
    return RuleCheck(i, True, specificity, rule.authority, f"подходит (условий: {specificity})")


def route(
    profile: RegionProfile,
    sector: str | None,
    category: str | None,
    municipality: str | None,
    urgency: str | None,
) -> RoutingDecision:
    """The responsible authority for these values, with the reasons (in words, with the profile's names)."""
    values = {"sector": sector, "category": category, "municipality": municipality, "urgency": urgency}
    rules = profile.region.routing
    checks = [_check(profile, i, r, values) for i, r in enumerate(rules)]
    matching = [c for c in checks if c.matched]
    said = {name: (_word(profile, name, v) if v else "—") for name, v in values.items()}
    head = (
        f"Инцидент: направление «{said['sector']}», категория «{said['category']}», "
        f"муниципалитет «{said['municipality']}», срочность «{said['urgency']}».\n"
        f"Правила региона «{profile.region.name}» (побеждает самое конкретное подходящее, при равенстве — раньше в списке):"
    )
    lines = [head] + [f"  №{c.index + 1} {_describe(profile, rules[c.index])}: {c.reason}" for c in checks]
    if not rules:
        lines.append("  (в профиле региона нет правил)")
    what = said["sector"] if sector else "Направление не определено"
    if matching:
        best = max(matching, key=lambda c: (c.specificity, -c.index))
        ties = [c for c in matching if c.specificity == best.specificity and c.index != best.index]
        why = f"самое конкретное из подходящих ({best.specificity} усл.)"
        if ties:
            why += "; равные по конкретности правила " + ", ".join(f"№{c.index + 1}" for c in ties) + " стоят позже"
        others = [c for c in matching if c.specificity < best.specificity]
        if others:
            why += "; менее конкретные: " + ", ".join(f"№{c.index + 1}" for c in others)
        assert best.authority is not None
        lines.append(f"Сработало правило №{best.index + 1}: {why}. Ответственный: {_name(profile, best.authority)}.")
        summary = f"{what} → {_name(profile, best.authority)}: правило «{rule_name(profile, rules[best.index])}»"
        return RoutingDecision(best.authority, best.index, "rule", "\n".join(lines), checks, summary)
    block = profile.block_for_sector(sector) if sector else None
    if block is not None:
        lines.append(
            f"Ни одно правило не подошло: ответственный за отраслевой блок «{block.name}» — {_name(profile, block.head)}."
        )
        summary = f"{what} → {_name(profile, block.head)}: ни одно правило не подошло, ответственный за отраслевой блок «{block.name}»"
        return RoutingDecision(block.head, None, FALLBACK_BLOCK, "\n".join(lines), checks, summary)
    head_code = next((a.code for a in profile.region.authorities if a.role == AuthorityRole.head), None)
    if head_code is None:  # the loader guarantees a head; keep a clear error anyway
        raise ValueError(f"region {profile.code!r} has no authority with role 'head'")
    reason = "направление не определено" if not sector else f"направление «{said['sector']}» не входит ни в один отраслевой блок"
    lines.append(f"Ни одно правило не подошло и {reason}: руководитель ЦУР — {_name(profile, head_code)}.")
    summary = f"{what} → {_name(profile, head_code)}: ни одно правило не подошло, руководитель ЦУР"
    return RoutingDecision(head_code, None, FALLBACK_HEAD, "\n".join(lines), checks, summary)


def _name(profile: RegionProfile, code: str) -> str:
    a = profile.region.authority(code)
    return a.name if a else code


def _short(profile: RegionProfile, code: str) -> str:
    """An authority's name, cut at the first parenthesis (for rule names)."""
    return _name(profile, code).split(" (")[0]


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
