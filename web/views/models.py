"""Models page for analysts: versions, metrics, confusion matrix, activate, roll back, retrain.

Versions come from the model registry (``pipeline.model_registry``, the same
service `cur models` uses). Rolling back is immediate; training and an
activation that first checks quality run as one background job at a time
(``ModelJobs``): a second request while one runs is refused with a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from pipeline import model_registry
from storage import web_repo

from .. import charts, formatting, services
from ..core import Req, page, redirect

MAX_MATRIX = 25
HEADS = ("relevance", "sector", "category", "urgency", "tone")
#: the classifier's heads in words
HEAD_NAMES = {"relevance": "проблема или нет", "sector": "направление", "category": "категория", "urgency": "срочность", "tone": "тональность"}
TONE_NAMES = {"negative": "негативная", "neutral": "нейтральная", "positive": "позитивная"}
RELEVANCE_NAMES = {"1": "проблема", "0": "не проблема", "true": "проблема", "false": "не проблема", "problem": "проблема",
                   "not_problem": "не проблема", "relevant": "проблема", "irrelevant": "не проблема", "other": "не проблема"}


def class_names(profile: Any) -> dict[str, dict[str, str]]:
    """head → class label → its name (sector and category codes by the taxonomy; ``sector:category`` too)."""
    sectors = {s.code: s.name for s in profile.sectors}
    categories: dict[str, str] = {}
    for s in profile.sectors:
        for c in s.categories:
            categories.setdefault(c.code, c.name)
            categories[f"{s.code}:{c.code}"] = f"{s.name}: {c.name}"
            categories[f"{s.code}/{c.code}"] = f"{s.name}: {c.name}"
    return {"sector": sectors, "category": categories, "urgency": dict(formatting.URGENCY_NAMES), "tone": TONE_NAMES, "relevance": RELEVANCE_NAMES}
#: the background model jobs of this server process
JOBS = model_registry.ModelJobs()


def evaluation(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The evaluation report inside a version's metrics (top level or one level down, e.g. ``test``)."""
    metrics = metrics or {}
    if any(h in metrics for h in HEADS):
        return metrics
    for v in metrics.values():
        if isinstance(v, dict) and any(h in v for h in HEADS):
            return v
    return {}


def confusion_svg(report: dict[str, Any], head: str, names: dict[str, str] | None = None) -> Any:
    part = report.get(head) or {}
    labels, matrix = part.get("labels") or [], part.get("confusion") or []
    if not labels or not matrix:
        return None
    labels = [str(x) for x in labels]
    values = {(g, p): int(n) for g, row in zip(labels, matrix) for p, n in zip(labels, row)}
    names = names or {}
    title = f"Матрица ошибок «{HEAD_NAMES.get(head, head)}»: строки — верный ответ, столбцы — ответ модели (цвет — доля строки)"
    if len(labels) > MAX_MATRIX:
        support = {g: sum(row) for g, row in zip(labels, matrix)}
        labels = sorted(labels, key=lambda g: -support[g])[:MAX_MATRIX]
        title += f" ({MAX_MATRIX} самых частых классов)"
    return charts.heatmap(labels, labels, values, title, by_row=True, row_titles=names, col_titles=names)


EVAL_FILES = {"test": "evaluation", "holdout": "holdout_evaluation"}


@dataclass(frozen=True)
class Row:
    """A version as the page shows it: the registry's facts and, if mirrored, when it was activated."""

    version: str
    is_active: bool
    created_at: datetime | None
    activated_at: datetime | None
    metrics: dict[str, Any]
    checksum: str
    data_fingerprint: str
    notes: str | None = None


def versions(req: Req) -> list[Row]:
    mirrored = {v.version: v for v in web_repo.model_versions(req.s)}
    rows = []
    for v in model_registry.list_versions(req.app_ctx.settings):
        m = mirrored.get(v.version)
        rows.append(Row(v.version, v.active, v.created_at, getattr(m, "activated_at", None) if v.active else None,
                        v.metrics, v.checksum, v.data_fingerprint, getattr(m, "notes", None)))  # fmt: skip
    return rows


@page("models.view")
def models_page(req: Req) -> web.StreamResponse:
    rows_ = versions(req)
    selected = None
    wanted = req.request.query.get("version")
    for v in rows_:
        if (wanted and v.version == wanted) or (not wanted and v.is_active):
            selected = v
    if selected is None and rows_:
        selected = rows_[0]
    head = req.request.query.get("head", "sector")
    which = req.request.query.get("set", "test")
    which = which if which in EVAL_FILES else "test"
    report: dict[str, Any] = {}
    if selected is not None:
        report = (model_registry.evaluation_report(req.app_ctx.settings, selected.version, EVAL_FILES[which])
                  or (evaluation(selected.metrics) if which == "test" else (selected.metrics or {}).get(which, {})))  # fmt: skip
    rows = [(v, evaluation(v.metrics), (v.metrics or {}).get("holdout") or {}) for v in rows_]
    names = class_names(req.profile)
    return req.render(
        "models.html",
        rows=rows,
        selected=selected,
        report=report,
        which=which,
        head=head if head in HEADS else "sector",
        heads=HEADS,
        matrix=confusion_svg(report, head, names.get(head)) if report else None,
        head_names=HEAD_NAMES,
        class_names=names.get(head, {}),
        num=formatting.number,
        job_running=model_registry.job_running(model_registry.models_root(req.app_ctx.settings)),
    )


@page("models.act")
def activate(req: Req) -> web.StreamResponse:
    version = req.form.get("version", "")
    known = {v.version for v in model_registry.list_versions(req.app_ctx.settings)}
    if version not in known:
        return redirect("/models", err=f"Нет версии «{version}».")
    force = bool(req.form.get("force"))
    pid = services.call(JOBS.start, req.app_ctx.settings, "activate", version, *(["--force"] if force else []))
    req.audit("model.activate", f"model:{version}", force=force, pid=pid)
    return redirect("/models", msg=f"Активация версии {version} запущена (с проверкой качества на оценочной выборке); обновите страницу через минуту.")


@page("models.act")
def rollback(req: Req) -> web.StreamResponse:
    version = services.call(model_registry.rollback, req.app_ctx.settings)
    req.audit("model.rollback", "model:previous", result=version)
    return redirect("/models", msg=f"Откат выполнен: активна версия {version}.")


@page("models.act")
def retrain(req: Req) -> web.StreamResponse:
    """Start a training in a background worker (one at a time); the new version appears here when it is done."""
    pid = services.call(JOBS.start, req.app_ctx.settings, "train")
    req.audit("model.retrain", "model:new", pid=pid)
    return redirect("/models", msg="Переобучение запущено; новая версия появится в списке по готовности.")


def setup(app: web.Application) -> None:
    app.router.add_get("/models", models_page)
    app.router.add_post("/models/activate", activate)
    app.router.add_post("/models/rollback", rollback)
    app.router.add_post("/models/retrain", retrain)
