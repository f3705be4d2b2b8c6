"""Codes → words for one request: people by name, authorities, sources, audit entries (read lazily, once)."""

from __future__ import annotations

import functools
from typing import Any

from markupsafe import Markup

from pipeline.accounts import roles
from storage import web_repo

from .. import formatting


class Namer:
    """What templates call to show an actor, a source, an audit entry or a routing decision in words."""

    def __init__(self, req: Any):
        self.req = req
        self.profile = req.profile

    @functools.cached_property
    def people(self) -> dict[str, str]:
        return web_repo.user_names(self.req.s)

    @functools.cached_property
    def authorities(self) -> dict[str, str]:
        names = {a.code: a.name for a in self.profile.region.authorities}
        names.update({a.code: a.name for a in web_repo.authorities(self.req.s, self.profile.region.code)})
        ctx = self.req.app_ctx
        if ctx.many_regions:  # ``api:REGION:CODE``: another region's token (pipeline.accounts.tokens.api_actor)
            names.update({f"{p.code}:{a.code}": f"{a.name} ({p.region.short_name})" for p in ctx.served for a in p.region.authorities})
        return names

    @functools.cached_property
    def titles(self) -> dict[tuple[str, str], str]:
        return web_repo.source_titles(self.req.s)

    @functools.cached_property
    def sectors(self) -> dict[str, str]:
        return {s.code: s.name for s in self.profile.sectors}

    @functools.cached_property
    def categories(self) -> dict[tuple[str, str], str]:
        return {(s.code, c.code): c.name for s in self.profile.sectors for c in s.categories}

    def actor(self, actor: str | None) -> Markup:
        """Who, in words; a login nobody has a name for is shown as typed, marked as an identifier."""
        label = formatting.actor_label(actor, self.people, self.authorities)
        if label == (actor or ""):
            return formatting.ident(label)
        return Markup("{}").format(label)

    def channel(self, channel: str | None) -> str:
        return formatting.channel_label(channel)

    def routing(self, incident: Any) -> tuple[str, str]:
        """(one line in words, the full explanation) of where the incident goes and why."""
        from pipeline.routing import route

        try:
            d = route(self.profile, incident.sector, incident.category, incident.municipality, incident.urgency)
        except Exception:  # noqa: BLE001 - an explanation must never break the page
            return "", incident.routing_rule or ""
        return d.summary, d.explanation

    def source(self, platform: str | None, key: str | None) -> str:
        return formatting.source_label(platform, key, self.titles)

    def lookup(self, kind: str, value: Any) -> Any:
        if kind == "authority":
            return self.authorities.get(value, str(value))
        if kind == "sector":
            return self.sectors.get(value, str(value))
        if kind == "category":
            return self.categories.get(tuple(value), str(value[1]))
        if kind == "role":
            return roles.ROLE_NAMES.get(value, str(value))
        if kind == "person":
            return self.actor(value)
        return str(value)

    def audit_details(self, action: str, data: Any) -> Markup:
        return formatting.audit_details(action, data, self.lookup)

    def audit_target(self, target: str | None) -> tuple[Markup, str | None]:
        return formatting.audit_target(target, self.lookup)

    def audit_action(self, action: str) -> str:
        return formatting.AUDIT_ACTIONS.get(action, "другое действие")


def namer(req: Any) -> dict[str, Any]:
    """Template context: ``N`` (the request's :class:`Namer`)."""
    return {"N": Namer(req)}
