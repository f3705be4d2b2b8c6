"""Models page for analysts: versions, metrics, confusion matrix, activate, roll back, retrain.

Activation, rollback and training belong to the model registry and its CLI
(``cli.models``); this page runs that CLI with the server's settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from storage import web_repo

from .. import charts, services
from ..core import Req, page, redirect

CLI_TIMEOUT = 120
MAX_MATRIX = 25
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
    labels = [str(x) for x in labels]
    values = {(g, p): int(n) for g, row in zip(labels, matrix) for p, n in zip(labels, row)}
    title = f"Матрица ошибок «{head}»: строки — верный ответ, столбцы — ответ модели (цвет — доля строки)"
    if len(labels) > MAX_MATRIX:
        support = {g: sum(row) for g, row in zip(labels, matrix)}
        labels = sorted(labels, key=lambda g: -support[g])[:MAX_MATRIX]
        title += f" ({MAX_MATRIX} самых частых классов)"
    return charts.heatmap(labels, labels, values, title, by_row=True)


EVAL_FILES = {"test": "evaluation.json", "holdout": "holdout_evaluation.json"}


def full_report(req: Req, version: str, which: str) -> dict[str, Any]:
    """The registry's full evaluation report of a version (with confusion matrices), if it is on disk."""
    try:
        from nlp.classifier.registry import Registry

        st = req.app_ctx.settings
        path = Registry(Path(st.models_dir) if st.models_dir else None).path(version) / EVAL_FILES[which]
        return json.loads(path.read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError, KeyError):
        return {}


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
    which = req.request.query.get("set", "test")
    which = which if which in EVAL_FILES else "test"
    report: dict[str, Any] = {}
    if selected is not None:
        report = full_report(req, selected.version, which) or (evaluation(selected.metrics) if which == "test" else (selected.metrics or {}).get(which, {}))
    rows = [(v, evaluation(v.metrics), (v.metrics or {}).get("holdout") or {}) for v in versions]
    return req.render(
        "models.html",
        rows=rows,
        selected=selected,
        report=report,
        which=which,
        head=head if head in HEADS else "sector",
        heads=HEADS,
        matrix=confusion_svg(report, head) if report else None,
    )


def _cli_env(req: Req) -> dict[str, str]:
    """Environment for the registry CLI: the same database, region and model directory as this server."""
    st = req.app_ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env.update({"CUR_DATABASE_URL": st.database_url, "CUR_REGION": st.region, "PYTHONIOENCODING": "utf-8"})
    if st.models_dir:
        env["CUR_MODELS_DIR"] = str(st.models_dir)
    if st.config_dir:
        env["CUR_CONFIG_DIR"] = str(st.config_dir)
    return env


def _registry_cli(req: Req, *args: str, background: bool = False) -> subprocess.Popen | subprocess.CompletedProcess:
    """Run the model registry's own CLI (``cur models ...``, ``cur train``) against this server's settings."""
    cmd = [sys.executable, "-m", "cli", *args]
    if background:
        return subprocess.Popen(cmd, env=_cli_env(req), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # noqa: S603
    try:
        return subprocess.run(cmd, env=_cli_env(req), capture_output=True, text=True, timeout=CLI_TIMEOUT)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise services.ActionRefused(f"команда не завершилась за {CLI_TIMEOUT} с") from None


def _outcome(result: subprocess.CompletedProcess) -> str:
    lines = [x for x in (result.stdout + "\n" + result.stderr).splitlines() if x.strip()]
    text = lines[-1] if lines else "нет вывода"
    if result.returncode != 0:
        raise services.ActionRefused(text.removeprefix("Ошибка: "))
    return text


@page("models.act")
def activate(req: Req) -> web.StreamResponse:
    version = req.form.get("version", "")
    if not version or version.startswith("-") or web_repo.model_version(req.s, version) is None:
        return redirect("/models", err=f"Нет версии «{version}».")
    args = ["models", "activate", version] + (["--force"] if req.form.get("force") else [])
    proc = _registry_cli(req, *args, background=True)
    req.audit("model.activate", f"model:{version}", force=bool(req.form.get("force")), pid=proc.pid)
    return redirect("/models", msg=f"Активация версии {version} запущена (с проверкой качества на оценочной выборке); обновите страницу через минуту.")


@page("models.act")
def rollback(req: Req) -> web.StreamResponse:
    text = _outcome(_registry_cli(req, "models", "rollback"))  # type: ignore[arg-type]
    req.audit("model.rollback", "model:previous", result=text)
    return redirect("/models", msg=text)


@page("models.act")
def retrain(req: Req) -> web.StreamResponse:
    """Start `cur train` in the background; the new version appears here when it is done."""
    proc = _registry_cli(req, "train", background=True)
    req.audit("model.retrain", "model:new", pid=proc.pid)
    return redirect("/models", msg=f"Переобучение запущено (процесс {proc.pid}); новая версия появится в списке по готовности.")


def setup(app: web.Application) -> None:
    app.router.add_get("/models", models_page)
    app.router.add_post("/models/activate", activate)
    app.router.add_post("/models/rollback", rollback)
    app.router.add_post("/models/retrain", retrain)
