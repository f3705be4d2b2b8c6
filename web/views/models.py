"""Models page for analysts: versions, metrics, confusion matrix, activate, roll back, retrain.

Activation, rollback and training belong to the model registry
(``pipeline.cli_models``); this page only calls it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from aiohttp import web

from storage import web_repo

from .. import charts, services
from ..core import Req, page, redirect

REGISTRY = "pipeline.cli_models"
HEADS = ("relevance", "sector", "category", "urgency", "tone")


def evaluation(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The evaluation report inside a version's metrics (top level or one level down, e.g. ``test``)."""
    metrics = metrics or {}
    if any(h in metrics for h in HEADS):
        return metrics
    for v in metrics.values():
        if isinstance(v, dict) and any(h in v for h in HEADS):
            return v
    return {}


def confusion_svg(report: dict[str, Any], head: str) -> Any:
    part = report.get(head) or {}
    labels, matrix = part.get("labels") or [], part.get("confusion") or []
    if not labels or not matrix:
        return None
    values = {(str(g), str(p)): int(n) for g, row in zip(labels, matrix) for p, n in zip(labels, row)}
    return charts.heatmap([str(x) for x in labels], [str(x) for x in labels], values, f"Матрица ошибок «{head}»: строки — верный ответ, столбцы — ответ модели")


@page("models.view")
def models_page(req: Req) -> web.StreamResponse:
    versions = web_repo.model_versions(req.s)
    selected = None
    wanted = req.request.query.get("version")
    for v in versions:
        if (wanted and v.version == wanted) or (not wanted and v.is_active):
            selected = v
    if selected is None and versions:
        selected = versions[0]
    head = req.request.query.get("head", "sector")
    report = evaluation(selected.metrics) if selected else {}
    rows = [(v, evaluation(v.metrics)) for v in versions]
    return req.render(
        "models.html",
        rows=rows,
        selected=selected,
        report=report,
        head=head if head in HEADS else "sector",
        heads=HEADS,
        matrix=confusion_svg(report, head) if report else None,
    )


@page("models.act")
def activate(req: Req) -> web.StreamResponse:
    version = req.form.get("version", "")
    services.call(REGISTRY, "activate_version", req.s, version, now=req.now, actor=req.user.login)
    req.audit("model.activate", f"model:{version}")
    return redirect("/models", msg=f"Активна версия {version}.")


@page("models.act")
def rollback(req: Req) -> web.StreamResponse:
    result = services.call(REGISTRY, "rollback_version", req.s, now=req.now, actor=req.user.login)
    version = getattr(result, "version", result)
    req.audit("model.rollback", f"model:{version}")
    return redirect("/models", msg=f"Откат выполнен: активна версия {version}.")


@page("models.act")
def retrain(req: Req) -> web.StreamResponse:
    """Start `cur models train` in the background; the new version appears here when it is done."""
    services.service(REGISTRY, "register")  # the registry CLI must be installed
    proc = subprocess.Popen(  # noqa: S603 - fixed argument list
        [sys.executable, "-m", "pipeline", "models", "train"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    req.audit("model.retrain", "model:new", pid=proc.pid)
    return redirect("/models", msg=f"Переобучение запущено (процесс {proc.pid}); новая версия появится в списке по готовности.")


def setup(app: web.Application) -> None:
    app.router.add_get("/models", models_page)
    app.router.add_post("/models/activate", activate)
    app.router.add_post("/models/rollback", rollback)
    app.router.add_post("/models/retrain", retrain)
