"""Nothing below the shells imports them: `cli/` and `web/` are imported by no package of the domain or below.

A cheap scan of every import statement (also the ones inside functions); it fails naming the file and line.
"""

from __future__ import annotations

import ast
import logging

from tests.conftest import ROOT

SHELLS = {"cli", "web"}
BELOW = ("pipeline", "storage", "nlp", "collectors", "config")


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_no_package_below_the_shells_imports_them():
    found = []
    for package in BELOW:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module in _imports(path):
                if module.split(".")[0] in SHELLS:
                    found.append(f"{path.relative_to(ROOT)}:{line}: import {module}")
    assert found == []


def test_the_cli_and_the_web_do_not_import_each_other():
    found = []
    for shell, other in (("cli", "web"), ("web", "cli")):
        for path in sorted((ROOT / shell).rglob("*.py")):
            for line, module in _imports(path):
                if module.split(".")[0] == other and not (shell == "cli" and module == "web.server"):
                    found.append(f"{path.relative_to(ROOT)}:{line}: import {module}")
    assert found == []  # the CLI only serves the web application (web.server), it borrows nothing else


def test_the_import_contracts_of_pyproject_hold(capsys):
    """The layering and the no-circles contracts of ``[tool.importlinter]`` (the same check as ``lint-imports``)."""
    from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

    # import-linter configures logging with dictConfig, which disables every logger that exists
    # (``pipeline.notify.sweep`` and the others): later tests that read our logs would see nothing.
    loggers = [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    disabled = {lg.name: lg.disabled for lg in loggers}
    try:
        status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        for lg in loggers:
            lg.disabled = disabled[lg.name]
    report = capsys.readouterr().out
    assert status == EXIT_STATUS_SUCCESS, report
    assert "0 broken" in report


#: The biggest module a reader should have to hold in mind (migrations are generated history, exempt).
MAX_MODULE_LINES = 600


def test_no_module_outside_migrations_is_over_600_lines():
    packages = ("cli", "web", "pipeline", "storage", "nlp", "collectors", "config", "classifier_models")
    too_big = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                too_big.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert too_big == [], "split these modules by job"
