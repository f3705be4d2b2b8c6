"""`ruff check` passes on the code with the rules of pyproject.toml ([tool.ruff]), so CI checks it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

CHECKED = ["cli", "web", "pipeline", "storage", "nlp", "collectors", "config", "classifier_models", "tests", "benchmarks"]


def test_ruff_finds_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *CHECKED], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
