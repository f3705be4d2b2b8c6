"""The registry of debunked claims (``/fakes``) and the operator's decisions on «возможный фейк» marks.

Pages: ``GET /fakes`` (claims, marks waiting for a decision, the threshold), ``POST /fakes`` (add a
claim), ``POST /fakes/{id}/remove``, ``POST /fakes/tune``; ``POST /fakes/marks/{id}`` with
``decision=confirm|dismiss`` from the review queue, the incident page or ``/fakes`` (``back`` says
where to return). The rules (validation, audit, the incident flag on confirmation) are
``pipeline.fakes``'s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pipeline import fakes
from storage import fakes as fake_repo
from storage import incidents as incident_repo

from .. import services
from ..core import Req, page, path_id, redirect

DECISION_DONE = {"confirm": "Метка подтверждена: пост повторяет опровергнутое утверждение.",
                 "dismiss": "Метка отклонена: пост не повторяет утверждение; отметка «возможный фейк», поставленная по ней, снята."}


def panel(req: Req, limit: int = 10) -> dict[str, Any]:
    """What the «возможные фейки» block of the review queue shows (``_fake_marks.html``)."""
    if not req.user.can("fakes.view"):
        return {"fake_marks": [], "fake_counts": {}}
    return {"fake_marks": fake_repo.pending_marks(req.s, limit, region=req.post_region), "fake_counts": fake_repo.count_marks(req.s),
            "can_decide_fakes": req.user.can("fakes.decide")}


def card_marks(req: Req, rows: list[Any]) -> dict[str, Any]:
    """The best mark of every post on the review queue's cards (``_fake_card_note.html``): ``{post_id: (mark, claim)}``."""
    found = fake_repo.marks_of_posts(req.s, [row[0].id for row in rows])
    return {"fake_by_post": {pid: marks[0] for pid, marks in found.items()}}


def incident_marks(req: Req, incident_id: int) -> dict[str, Any]:
    """The marks of an incident's posts for its page (``_incident_fakes.html``)."""
    return {"fake_marks": fake_repo.marks_of_incident(req.s, incident_id), "can_decide_fakes": req.user.can("fakes.decide")}


def _render(req: Req, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> web.Response:
    claims = fakes.list_claims(req.s, active_only=False)
    latest = fake_repo.latest_threshold(req.s)
    return req.render(
        "fakes.html", status=status, error=error, form=form or {}, claims=claims, counts=fake_repo.claim_mark_counts(req.s),
        threshold=fakes.current_threshold(req.s), tuned=latest, default_threshold=fakes.DEFAULT_THRESHOLD,
        min_decided=fakes.MIN_DECIDED, can_manage=req.user.can("fakes.manage"), **panel(req, 50),
    )


@page("fakes.view")
def fakes_page(req: Req) -> web.StreamResponse:
    return _render(req)


@page("fakes.manage")
def add(req: Req) -> web.StreamResponse:
    f = req.form
    try:
        c = services.call(fakes.add_claim, req.s, f.get("claim"), f.get("refutation"), f.get("link"), req.user.login, req.now, via="web")
    except services.ActionRefused as e:
        return _render(req, 400, f"Утверждение не добавлено: {e}", dict(f))
    return redirect("/fakes", msg=f"Утверждение №{c.id} добавлено в реестр: новые посты сравниваются с ним при обработке.")


@page("fakes.manage")
def remove(req: Req) -> web.StreamResponse:
    claim_id = path_id(req.request, "claim_id")
    services.call(fakes.remove_claim, req.s, claim_id, req.user.login, req.now, via="web")
    return redirect("/fakes", msg=f"Утверждение №{claim_id} снято с учёта.")


@page("fakes.manage")
def tune(req: Req) -> web.StreamResponse:
    before = fakes.current_threshold(req.s)
    try:
        row = services.call(fakes.tune_threshold, req.s, req.user.login, req.now)
    except services.ActionRefused as e:
        return redirect("/fakes", err=f"Порог не подобран: {e}.")
    return redirect("/fakes", msg=f"Порог сходства {fakes.threshold_change(before, row.threshold)} (точность {row.precision:.2f}, "
                                  f"полнота {row.recall:.2f}, F1 {row.f1:.2f} по {row.decided} решениям). Действует со следующей обработки.")


@page("fakes.decide")
def decide(req: Req) -> web.StreamResponse:
    mark_id = path_id(req.request, "mark_id")
    decision = req.form.get("decision", "")
    found = fake_repo.mark(req.s, mark_id)
    post = incident_repo.posts_by_id(req.s, [found.post_id]).get(found.post_id) if found is not None else None
    if post is not None and not req.sees_post(post):
        raise web.HTTPNotFound(text="Не найдено.")  # a mark on another region's post
    m = services.call(fakes.decide_mark, req.s, mark_id, decision, req.user.login, req.now)
    back = req.form.get("back", "")
    if back == "incident":
        inc = incident_repo.incident_of_post(req.s, m.post_id)
        target = f"/incidents/{inc.id}" if inc is not None else "/fakes"
    else:
        target = "/review" if back == "review" else "/fakes"
    return redirect(target, msg=DECISION_DONE[decision])


def setup(app: web.Application) -> None:
    app.router.add_get("/fakes", fakes_page)
    app.router.add_post("/fakes", add)
    app.router.add_post("/fakes/tune", tune)
    app.router.add_post("/fakes/{claim_id:\\d+}/remove", remove)
    app.router.add_post("/fakes/marks/{mark_id:\\d+}", decide)
