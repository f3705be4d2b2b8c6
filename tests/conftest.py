"""Shared fixtures: real SQLite files and a real PostgreSQL server.

``db_url`` is parametrised over both backends. PostgreSQL tests use a
database of their own, created for this test session on the server at
``CUR_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``) and
dropped afterwards, so parallel runs never share tables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from pipeline.context import App

ROOT = Path(__file__).resolve().parent.parent
#: The installed console command, run as a user runs it.
CUR = str(Path(sys.executable).parent / "cur")
PG_ADMIN_URL = os.environ.get("CUR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=5)


def _pg_available() -> bool:
    try:
        _pg_admin().close()
        return True
    except Exception:  # noqa: BLE001  (any failure means: no PostgreSQL here)
        return False


def _create_pg_database() -> str:
    name = f"cur_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def _drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> bool:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return True


@pytest.fixture(scope="session")
def pg_session_url(pg_server: bool) -> Iterator[str]:
    """A migrated PostgreSQL database shared by the session (tables emptied per test)."""
    from storage import Database

    url = _create_pg_database()
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    _drop_pg_database(url)


@pytest.fixture
def fresh_pg_url(pg_server: bool) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (for migration tests)."""
    url = _create_pg_database()
    yield url
    _drop_pg_database(url)


#: Empties the session's PostgreSQL database in one round trip: DELETE (not TRUNCATE, which makes new
#: files for every table and index: 0.5-1 s wall a test) from the tables holding rows, and every sequence
#: a test moved back to its start (as ``TRUNCATE ... RESTART IDENTITY`` did). Triggers and foreign keys
#: are off for it (``session_replication_role = replica``): the append-only tables refuse DELETE.
_EMPTY_BODY = """
  PERFORM set_config('session_replication_role', 'replica', true);
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM public.%I', r.tablename);
  END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
    PERFORM setval(format('public.%I', r.sequencename), 1, false);
  END LOOP;
"""
_PG_EMPTY = "DO $$\nDECLARE r record;\nBEGIN\n" + _EMPTY_BODY + "END $$\n"


def _pg_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(sql)


def _truncate_pg(url: str) -> None:
    """Empty the PostgreSQL database at ``url`` (every table; sequences back at their start)."""
    _pg_execute(url, _PG_EMPTY)


@pytest.fixture
def pg_url(pg_session_url: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    _truncate_pg(pg_session_url)
    return pg_session_url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session (per xdist worker), copied for each test."""
    from storage import Database

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    _sqlite_settle(path)
    return path


def _sqlite_settle(path: Path) -> None:
    """Fold the write-ahead log into the file, so copying the file alone copies the database."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated, empty SQLite file of this test's own (a copy of the session's migrated template)."""
    path = tmp_path / "cur.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


#: Copies the session's PostgreSQL tables holding rows, and the sequences' positions, into schema %(schema)s.
_PG_SNAPSHOT = """
DO $$
DECLARE r record; has_rows boolean;
BEGIN
  CREATE SCHEMA %(schema)s;
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%%I)', r.tablename) INTO has_rows;
    IF has_rows THEN
      EXECUTE format('CREATE TABLE %(schema)s.%%I AS SELECT * FROM public.%%I', r.tablename, r.tablename);
    END IF;
  END LOOP;
  CREATE TABLE %(schema)s._sequences AS
    SELECT sequencename AS name, last_value FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL;
END $$
"""

#: Empties the session's database (as ``_PG_EMPTY``) and puts back what ``_PG_SNAPSHOT`` copied into %(schema)s.
_PG_RESTORE = """
DO $$
DECLARE r record;
BEGIN
%(empty)s  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = '%(schema)s' AND tablename <> '_sequences' LOOP
    EXECUTE format('INSERT INTO public.%%I SELECT * FROM %(schema)s.%%I', r.tablename, r.tablename);
  END LOOP;
  FOR r IN SELECT name, last_value FROM %(schema)s._sequences LOOP
    PERFORM setval(format('public.%%I', r.name), r.last_value, true);
  END LOOP;
END $$
"""


class SeededDatabases:
    """Data that many tests start from, stored once per session (per xdist worker) and copied for each test.

    ``fill(url, key, seed)`` makes the test's fresh, empty database at ``url`` hold what ``seed()`` leaves in it:
    the first time for a ``key`` it runs ``seed()`` and keeps the result (SQLite: a copy of the file;
    PostgreSQL: a copy of the tables in a schema of the session's database); afterwards it copies that back.
    The key must name everything the data depends on (what is seeded, for which region, at which time).
    Every test still gets a database of its own to write to.
    """

    def __init__(self, root: Path):
        self.root = root
        self.sqlite: dict[object, Path] = {}
        self.pg: dict[tuple[str, object], str] = {}

    def fill(self, url: str, key: object, seed: Callable[[], object]) -> None:
        if url.startswith("sqlite"):
            path = Path(url.split(":///", 1)[1])
            template = self.sqlite.get(key)
            if template is None:
                seed()
                _sqlite_settle(path)
                self.sqlite[key] = template = self.root / f"seeded-{len(self.sqlite)}.db"
                shutil.copyfile(path, template)
            else:
                shutil.copyfile(template, path)
            return
        schema = self.pg.get((url, key))
        if schema is None:
            seed()
            self.pg[(url, key)] = schema = f"seeded_{len(self.pg)}"
            _pg_execute(url, _PG_SNAPSHOT % {"schema": schema})
        else:
            _pg_execute(url, _PG_RESTORE % {"schema": schema, "empty": _EMPTY_BODY})


@pytest.fixture(scope="session")
def seeded_databases(tmp_path_factory: pytest.TempPathFactory) -> SeededDatabases:
    return SeededDatabases(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def seed_sample_once(seeded_databases: SeededDatabases) -> Callable[[App, datetime], None]:
    """``web.sample.seed_sample(app, now)`` into the app's fresh database: seeded once per backend, region and
    ``now`` in a session, copied for every other test."""

    def _seed(app: App, now: datetime) -> None:
        from web.sample import seed_sample

        if "db" in app.__dict__:  # no connection may be open on a file copied over
            app.db.dispose()
        seeded_databases.fill(app.settings.database_url, ("sample", app.region.code, now), lambda: seed_sample(app, now))

    return _seed


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database on each backend in turn."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(db_url: str):
    from storage import Database

    d = Database(db_url)
    yield d
    d.dispose()


@pytest.fixture
def cur_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """Environment for running the real `cur` command against the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env["CUR_DATABASE_URL"] = db_url
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_cur(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120,
            input: str | None = None, *, as_process: bool = False):  # fmt: skip
    """Run `cur` with these arguments, environment and working directory; return a CompletedProcess.

    In-process by default (click's CliRunner): the same command, options, environment and
    working directory, without paying for a new interpreter on every call. ``as_process``
    runs the installed console script instead, for what only a process proves (the entry
    point, a crash, a kill); ``CUR_TEST_CLI=process`` runs every call so. An unexpected exception is appended to stderr as a process
    would print it, so a test that asserts no traceback cannot pass by accident.
    """
    if as_process or os.environ.get("CUR_TEST_CLI") == "process":  # CUR_TEST_CLI=process: every call as a process
        return subprocess.run([CUR, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input)
    import contextlib
    import traceback

    from click.testing import CliRunner

    from cli.main import main

    wanted = dict(os.environ if env is None else env)
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CUR_") and k not in wanted}
    overrides.update({k: v for k, v in wanted.items() if os.environ.get(k) != v})
    with contextlib.chdir(cwd or Path.cwd()):
        r = CliRunner().invoke(main, args, input=input, env=overrides, prog_name="cur")
    stderr = r.stderr
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(r.exception))
    return subprocess.CompletedProcess([CUR, *args], r.exit_code, r.stdout, stderr)


@pytest.fixture
def cur(cur_env: dict[str, str], tmp_path: Path):
    def _run(*args: str, timeout: float = 120, input: str | None = None):
        return run_cur(list(args), env=cur_env, cwd=tmp_path, timeout=timeout, input=input)

    return _run


@pytest.fixture(scope="session")
def profile():
    """The shipped Kuzbass region profile."""
    from config import load_configuration, load_settings

    return load_configuration(load_settings(env={})).regions["kuzbass"]


PG_FIXTURES = {"pg_server", "pg_session_url", "pg_url", "fresh_pg_url"}


_PLAYWRIGHT: dict[str, bool] = {}


def _uses_playwright(path: str) -> bool:
    if path not in _PLAYWRIGHT:
        _PLAYWRIGHT[path] = "playwright" in Path(path).read_text(encoding="utf-8")
    return _PLAYWRIGHT[path]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers follow what a test needs, so `-m "not postgres and not browser"` is a true fast loop.

    `postgres`: the test uses a PostgreSQL fixture or is the postgres case of a backend parameter;
    `browser`: its module drives chromium through Playwright. (`slow` is set by hand.)
    """
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & PG_FIXTURES or "postgres" in params.values() or "postgres" in item.name:
            item.add_marker(pytest.mark.postgres)
        path = str(getattr(item, "path", ""))
        if path.endswith(".py") and _uses_playwright(path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2() -> Iterator[None]:
    """Real argon2id, with test-sized costs: the suite signs in hundreds of times.

    Production keeps argon2-cffi's defaults (``tests/test_passwords.py`` checks them); stored hashes
    carry their own parameters, so hashes of either cost verify. Commands run as a subprocess use
    the production costs.
    """
    from argon2 import PasswordHasher

    from pipeline.accounts import passwords
    from tests.helpers import CHEAP_ARGON2

    saved = passwords._hasher
    passwords._hasher = PasswordHasher(**CHEAP_ARGON2)
    yield
    passwords._hasher = saved
