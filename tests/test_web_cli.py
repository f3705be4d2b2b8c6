"""`cur users add|list`, `cur tokens add` and `cur serve` as a user runs them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import Database
from storage.models import ApiToken, AuditEntry, User
from tests.conftest import run_cur


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    e["CUR_DATABASE_URL"] = sqlite_url
    e["PYTHONIOENCODING"] = "utf-8"
    return e


def test_users_and_tokens(env: dict[str, str], tmp_path: Path, sqlite_url: str):
    r = run_cur(["users", "add", "boss", "--role", "admin", "--password-stdin"], env=env, cwd=tmp_path, input="very-secret-1\n")
    assert r.returncode == 0, r.stderr
    assert "создан" in r.stdout
    r = run_cur(["users", "add", "spec", "--role", "specialist", "--password-stdin"], env=env, cwd=tmp_path, input="very-secret-1\n")
    assert r.returncode != 0 and "орган власти" in r.stderr
    r = run_cur(["users", "add", "spec", "--role", "specialist", "--authority", "head_healthcare", "--password-stdin", "--temporary"],
                env=env, cwd=tmp_path, input="very-secret-2\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Пароль временный" in r.stdout
    r = run_cur(["users", "list"], env=env, cwd=tmp_path)
    assert "boss\tadmin" in r.stdout and "spec\tspecialist\thead_healthcare" in r.stdout
    r = run_cur(["tokens", "add", "head_healthcare"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("cur_") and len(token) > 30
    db = Database(sqlite_url)
    with db.session() as s:
        users = {u.login: u for u in s.scalars(select(User))}
        assert users["boss"].password_hash.startswith("$argon2id$") and "very-secret" not in users["boss"].password_hash
        # a password typed for someone else is temporary: they set their own at the first sign-in
        assert users["spec"].must_change_password and not users["boss"].must_change_password
        hashes = list(s.scalars(select(ApiToken.token_hash)))
        assert hashes and token not in hashes
        actions = [a for a, in s.execute(select(AuditEntry.action))]
        assert actions.count("user.add") == 2 and "token.add" in actions
    db.dispose()


def test_account_mistakes_are_named(sqlite_url: str):
    from datetime import datetime, timezone

    from config import load_settings
    from pipeline.accounts.users import AccountError, add_user
    from pipeline.context import App
    from web.server import prepare

    app = App(settings=load_settings(env={}).model_copy(update={"database_url": sqlite_url}))
    prepare(app)
    now = datetime.now(timezone.utc)
    with app.db.session() as s:
        add_user(s, app.region.code, "boss", "very-secret-1", "admin", None, now, "test")
        for args, words in [
            (("boss", "very-secret-1", "admin", None), "уже есть"),
            (("x", "abc", "analyst", None), "не короче"),
            (("x", "eleven-char", "analyst", None), "не короче 12 символов"),  # ASVS 2.1.1
            (("x", "very-secret-1", "specialist", "no_such"), "no_such"),
            (("x", "very-secret-1", "superuser", None), "неизвестная роль"),
        ]:
            with pytest.raises(AccountError, match=words):
                add_user(s, app.region.code, *args, now, "test")
    app.db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_on_the_port(env: dict[str, str], tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as resp:
                    page = resp.read().decode("utf-8")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail(f"cur serve did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
                time.sleep(0.3)
        assert "Вход в ЦУР Монитор" in page
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/incidents", timeout=5)
        assert err.value.code == 401
        assert "error" in json.loads(err.value.read().decode("utf-8"))
    finally:
        proc.terminate()
        out, errs = proc.communicate(timeout=20)
    assert proc.returncode == 0, errs
    assert f"127.0.0.1:{port}/login" in out and "остановлено" in out
    # log lines carry the region's time (Kuzbass, +07:00), not the machine's UTC clock
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0700 INFO ", errs, re.M), errs
