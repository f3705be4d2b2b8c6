"""The models page uses the model registry directly: versions and the active one, rollback, one model job at a time, no zombies."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from config import load_settings
from pipeline import model_registry
from pipeline.context import App
from tests.helpers import models_dir_with
from tests.test_web_security import add_users, csrf_of, login
from web.app import create_app
from web.views import models as models_view


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return models_dir_with(tmp_path / "models", [
        ("v1", "2026-11-01T10:00:00+00:00", {"test": {"score": 0.70, "sector": {"macro_f1": 0.6}}}),
        ("v2", "2026-11-20T10:00:00+00:00", {"test": {"score": 0.75, "sector": {"macro_f1": 0.6}}}),
    ], active=["v1", "v2"])


@pytest.fixture
def app_ctx(sqlite_url: str, models_dir: Path):
    settings = load_settings(env={}).model_copy(update={"database_url": sqlite_url, "secret_key": "test-secret-" + "k" * 20,
                                                         "models_dir": models_dir})  # fmt: skip
    app = App(settings=settings)
    app.ready_db()
    add_users(app, [("an", "analyst", None)])
    yield app
    app.db.dispose()


async def analyst(app_ctx, aiohttp_client):
    client = await aiohttp_client(create_app(app_ctx))
    assert (await login(client, "an")).status == 303
    return client


async def test_page_lists_the_registry_versions_and_the_active_one(app_ctx, aiohttp_client):
    """The database mirror is empty (versions made by another tool): the page still shows both, v2 active."""
    an = await analyst(app_ctx, aiohttp_client)
    html = await (await an.get("/models")).text()
    assert "Обученных версий нет" not in html
    assert 'data-version="v1"' in html and re.search(r'<tr class="active" data-version="v2">', html)
    assert "0,700" in html and "0,750" in html  # Russian decimal comma


async def test_rollback_uses_the_registry(app_ctx, aiohttp_client, models_dir):
    an = await analyst(app_ctx, aiohttp_client)
    token = csrf_of(await (await an.get("/models")).text())
    r = await an.post("/models/rollback", data={"csrf_token": token}, allow_redirects=False)
    assert "Откат выполнен: активна версия v1" in unquote(r.headers["Location"])
    assert (models_dir / "ACTIVE").read_text().strip() == "versions/v1"
    r = await an.post("/models/rollback", data={"csrf_token": token}, allow_redirects=False)
    assert "нет более ранней активной версии" in unquote(r.headers["Location"])


def _zombies_of(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == pid:
                out.append(int(d.name))
    return out


async def test_one_model_job_at_a_time_and_no_zombie(app_ctx, aiohttp_client, models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CUR_DATA_DIR", str(tmp_path / "no-shared-data"))  # the worker evaluates on the corpus only
    an = await analyst(app_ctx, aiohttp_client)
    token = csrf_of(await (await an.get("/models")).text())
    # a training already runs (`cur train` holds the lock): the page refuses, in Russian, and starts nothing
    with model_registry.model_job_lock(models_dir):
        r = await an.post("/models/retrain", data={"csrf_token": token}, allow_redirects=False)
        assert "уже идёт" in unquote(r.headers["Location"])
        assert models_view.JOBS.procs == [] or all(p.poll() is not None for p in models_view.JOBS.procs)
        assert "Идёт переобучение" in await (await an.get("/models")).text()
    started = len(models_view.JOBS.procs)
    # a job of the page (an activation with a quality check of a version that cannot be loaded: it fails, quickly)
    r = await an.post("/models/activate", data={"csrf_token": token, "version": "v1"}, allow_redirects=False)
    assert "запущена" in unquote(r.headers["Location"])
    assert len(models_view.JOBS.procs) == started + 1
    proc = models_view.JOBS.procs[-1]
    second = await an.post("/models/activate", data={"csrf_token": token, "version": "v1"}, allow_redirects=False)
    if proc.poll() is None:  # still running: the second job is refused
        assert "уже идёт" in unquote(second.headers["Location"]), unquote(second.headers["Location"])
        assert len(models_view.JOBS.procs) == started + 1
    models_view.JOBS.wait(120)
    assert proc.returncode is not None
    for _ in range(50):  # the reaping thread closes the lock right after the wait
        if not model_registry.job_running(models_dir):
            break
        await asyncio.sleep(0.1)
    assert not model_registry.job_running(models_dir)
    assert _zombies_of(os.getpid()) == []
    log = (models_dir / model_registry.LOG_NAME).read_text(encoding="utf-8")
    assert "Ошибка" in log or "Активна версия" in log
