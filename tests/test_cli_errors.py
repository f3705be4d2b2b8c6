"""The CLI's error boundary: every expected failure is one Russian line and a documented exit code.

In-process (click's CliRunner): what is checked is the command's output and
exit code, which a subprocess would not prove any better.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from cli.errors import EXIT_DATABASE, EXIT_FAILED, EXIT_RESOURCE, EXIT_USAGE
from cli.main import main
from tests.conftest import PG_ADMIN_URL
from tests.helpers import free_port


def invoke(args: list[str], database_url: str | None = None, **env: str) -> Result:
    if database_url:
        env["CUR_DATABASE_URL"] = database_url
    return CliRunner().invoke(main, args, env=env, prog_name="cur")


def one_russian_line(r: Result) -> str:
    """The failure was reported, not raised: one line on stderr, no traceback."""
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("Ошибка: "), lines[0]
    return lines[0]


# --------------------------------------------------------------------------- database


def test_unreachable_database_is_one_line_and_exit_3():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing_listens"
    r = invoke(["incidents", "list"], url)
    line = one_russian_line(r)
    assert r.exit_code == EXIT_DATABASE
    assert "недоступна" in line and "не принимает соединения" in line and "CUR_DATABASE_URL" in line


def test_sqlite_database_in_a_missing_folder_is_named(tmp_path: Path):
    r = invoke(["sources", "list"], f"sqlite:///{tmp_path / 'no' / 'such' / 'cur.db'}")
    line = one_russian_line(r)
    assert r.exit_code == EXIT_DATABASE and "папки нет" in line


@pytest.mark.postgres
def test_missing_postgres_database_is_named(pg_server):
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    r = invoke(["incidents", "list"], f"{base}/cur_no_such_database")
    line = one_russian_line(r)
    assert r.exit_code == EXIT_DATABASE and "такой базы данных нет" in line and "cur_no_such_database" in line


def test_password_is_not_shown(tmp_path: Path):
    r = invoke(["incidents", "list"], f"postgresql://cur:s3cret-pw@127.0.0.1:{free_port()}/x")
    assert r.exit_code == EXIT_DATABASE and "s3cret-pw" not in r.output


# --------------------------------------------------------------------------- output files


@pytest.mark.parametrize("what", ["posts", "incidents"])
def test_export_into_a_missing_folder(sqlite_url: str, tmp_path: Path, what: str):
    target = tmp_path / "missing" / "out.csv"
    r = invoke(["export", what, "--format", "csv", "--output", str(target)], sqlite_url)
    line = one_russian_line(r)
    assert r.exit_code == EXIT_RESOURCE
    assert f"папки {target.parent} нет" in line and "--output" in line


def test_classify_into_a_missing_folder_fails_before_loading_the_model(tmp_path: Path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": 1, "text": "Нет отопления"}, ensure_ascii=False) + "\n", encoding="utf-8")
    target = tmp_path / "missing" / "out.jsonl"
    r = invoke(["classify", "--input", str(inp), "--output", str(target), "--models-dir", str(tmp_path / "no-models")])
    line = one_russian_line(r)  # the (absent) model would be the failure if it were loaded first
    assert r.exit_code == EXIT_RESOURCE and f"папки {target.parent} нет" in line


# --------------------------------------------------------------------------- ports


@pytest.fixture
def taken_port():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


def test_serve_on_a_taken_port(sqlite_url: str, taken_port: int):
    r = invoke(["serve", "--host", "127.0.0.1", "--port", str(taken_port)], sqlite_url)
    line = one_russian_line(r)
    assert r.exit_code == EXIT_RESOURCE and f"порт {taken_port}" in line and "занят" in line and "--port" in line


def test_demo_on_a_taken_port_fails_before_the_work(tmp_path: Path, taken_port: int):
    demo_db = tmp_path / "demo.db"
    r = invoke(["demo", "--database", f"sqlite:///{demo_db}", "--host", "127.0.0.1", "--port", str(taken_port)])
    line = one_russian_line(r)
    assert r.exit_code == EXIT_RESOURCE and f"порт {taken_port}" in line
    assert not demo_db.exists()  # nothing was done


# --------------------------------------------------------------------------- click's own messages


def test_usage_errors_are_russian():
    r = invoke(["report"])
    assert r.exit_code == EXIT_USAGE
    assert "Использование: cur report [ПАРАМЕТРЫ]" in r.stderr and "Не указан параметр '--month'" in r.stderr
    r = invoke(["export", "posts", "--format", "xml"])
    assert r.exit_code == EXIT_USAGE and "не одно из значений" in r.stderr and "'jsonl', 'csv'" in r.stderr
    r = invoke(["incidnts"])
    assert r.exit_code == EXIT_USAGE and "Нет такой команды: 'incidnts'" in r.stderr
    r = invoke(["incidents", "show", "abc"])
    assert r.exit_code == EXIT_USAGE and "'abc' — не число" in r.stderr
    r = invoke(["process", "--limit", "0"])
    assert r.exit_code == EXIT_USAGE and "вне допустимого диапазона" in r.stderr
    for res in (invoke(["report"]), invoke(["incidnts"]), invoke(["export", "posts", "--format", "xml"])):
        for english in ("Usage:", "Error:", "Missing", "Try ", "No such", "is not"):
            assert english not in res.output, (english, res.output)


def test_help_headings_are_russian():
    r = invoke(["--help"])
    assert r.exit_code == 0
    assert "Использование: cur [ПАРАМЕТРЫ] КОМАНДА [АРГУМЕНТЫ]..." in r.output
    assert "Параметры:" in r.output and "Команды:" in r.output and "Показать эту справку и выйти." in r.output
    r = invoke(["export", "posts", "--help"])
    assert "по умолчанию: jsonl" in r.output
    for english in ("Usage:", "Options:", "Commands:", "Show this message", "default:"):
        assert english not in r.output


# --------------------------------------------------------------------------- domain errors map to exit 1


def test_domain_refusal_is_exit_1(sqlite_url: str):
    r = invoke(["incidents", "show", "999"], sqlite_url)
    assert r.exit_code == EXIT_FAILED and one_russian_line(r) == "Ошибка: инцидент №999 не найден"


# --------------------------------------------------------------------------- logs


def test_log_lines_are_in_the_region_time():
    from cli.common import RegionTimeFormatter

    fmt = RegionTimeFormatter("%(asctime)s %(message)s", ZoneInfo("Asia/Novokuznetsk"))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "started", None, None)
    record.created = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc).timestamp()
    assert fmt.format(record) == "2026-01-01 07:00:00+0700 started"


# --------------------------------------------------------------------------- sources list


def test_sources_list_does_not_call_a_failed_source_working(sqlite_url: str):
    from storage import Database
    from storage.sources import list_sources, record_failure, record_success

    assert invoke(["sources", "add", "https://vk.com/club1", "https://vk.com/club2", "https://vk.com/club3"], sqlite_url).exit_code == 0
    db = Database(sqlite_url)
    now = datetime.now(timezone.utc)
    with db.session() as s:
        one, two, three = sorted(list_sources(s), key=lambda x: x.id)
        record_failure(s, one, "сервер VK не ответил", at=now)  # its only crawl failed
        record_success(s, two, 5, at=now - timedelta(hours=2))
        record_failure(s, two, "сервер VK не ответил", at=now)  # worked before, failed now
        record_success(s, three, 5, at=now)
    db.dispose()
    r = invoke(["sources", "list"], sqlite_url)
    assert r.exit_code == 0
    blocks = r.output.split("№")[1:]
    assert "состояние: работает" not in blocks[0] and "успешных обходов не было" in blocks[0]
    assert "состояние: работает" not in blocks[1] and "последний обход завершился ошибкой" in blocks[1]
    assert "состояние: работает" in blocks[2]


# --------------------------------------------------------------------------- the installed command, as a process


def test_installed_command_runs_and_reports_like_in_process(tmp_path: Path):
    """The console script's entry point (what CliRunner cannot prove) and a failure's exit code as a process."""
    from tests.conftest import run_cur

    r = run_cur(["--version"], cwd=tmp_path, as_process=True)
    assert r.returncode == 0 and "ЦУР Монитор" in r.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env["CUR_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing_listens"
    r = run_cur(["incidents", "list"], env=env, cwd=tmp_path, as_process=True)
    assert r.returncode == EXIT_DATABASE and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("Ошибка: база данных") and len(r.stderr.strip().splitlines()) == 1
