"""A pytest plugin: CPU seconds per test (the test process plus the children it waited for), for comparing tests.

    PYTHONPATH=benchmarks CPUTIME_OUT=/tmp/cpu.tsv nice .venv/bin/python -m pytest -p pytest_cputime tests/test_x.py
    sort -rn /tmp/cpu.tsv | head

Each line: own CPU, children's CPU, wall seconds, test id (setup, call and teardown together; a module
fixture counts for the first test that uses it). CPU time, unlike wall time, changes little with the load of
the other programs on the machine, so two versions of a test can be compared while the machine is busy.
"""

from __future__ import annotations

import os
import resource
import time

import pytest


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    own0, children0 = _cpu()
    wall0 = time.monotonic()
    yield
    own1, children1 = _cpu()
    with open(os.environ.get("CPUTIME_OUT", "cputime.tsv"), "a", encoding="utf-8") as f:
        f.write(f"{own1 - own0:.2f}\t{children1 - children0:.2f}\t{time.monotonic() - wall0:.2f}\t{item.nodeid}\n")
