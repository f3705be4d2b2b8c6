"""The REST API against its own OpenAPI description, by schemathesis (property-based).

A real server on 127.0.0.1 over a seeded SQLite and PostgreSQL database, a real token of an
authority that holds incidents. For every operation schemathesis sends
generated requests (``MAX_EXAMPLES`` each, no shrinking deadline) and requests
built on each of the spec's examples (``EXAMPLE_CASES`` per example strategy:
the example with generated other parts) and checks every answer: no 5xx, the status code is one
the spec lists, the content type and the body match the spec's schema, the
documented headers are there. Any failure is a bug in the API or in the spec.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from pipeline.accounts.users import add_token  # noqa: E402
from storage import web_repo  # noqa: E402
from storage.models import Incident  # noqa: E402
from tests.test_web_security import make_ctx  # noqa: E402
from web.sample import seed_sample  # noqa: E402
from web.server import BackgroundServer  # noqa: E402

#: generated requests per operation (the examples of the spec come on top); CI_SCHEMATHESIS_EXAMPLES overrides
MAX_EXAMPLES = int(os.environ.get("CI_SCHEMATHESIS_EXAMPLES", "40"))
#: requests per strategy of the spec's examples (its other parts are generated, as above; 40 cost a third of the run)
EXAMPLE_CASES = max(1, MAX_EXAMPLES // 4)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request, tmp_path_factory):
    from sqlalchemy import select

    from storage import Database
    from tests.conftest import _truncate_pg

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'cur.db'}"
        db = Database(url)
        db.upgrade()
        db.dispose()
    else:
        url = request.getfixturevalue("pg_session_url")
        _truncate_pg(url)
    app = make_ctx(url)
    seed_sample(app, datetime.now(timezone.utc))
    with app.db.session() as s:
        authority_id = s.scalars(select(Incident.authority_id).where(Incident.authority_id.is_not(None))).first()
        code = web_repo.authority_names(s, [authority_id])[authority_id].code
        token = add_token(s, app.region.code, code, datetime.now(timezone.utc), "schemathesis")
    with BackgroundServer(app) as server:
        yield {"url": server.url, "token": token}
    app.db.dispose()


@pytest.fixture(scope="module")
def api_schema(api):
    return schemathesis.openapi.from_url(api["url"] + "/api/openapi.json")


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


def test_api_matches_its_openapi(api_schema, api):
    """Every operation: the spec's examples, then generated requests; every answer checked (see the module docstring)."""
    headers = {"Authorization": f"Bearer {api['token']}"}
    tried: dict[str, int] = {}
    for operation in _operations(api_schema):
        count = 0

        def call(case) -> None:
            nonlocal count
            count += 1
            case.call_and_validate(base_url=api["url"], headers=headers, checks=CHECKS)

        strategies = [(operation.as_strategy(), MAX_EXAMPLES)] + [(s, EXAMPLE_CASES) for s in operation.get_strategies_from_examples()]
        for strategy, cases in strategies:

            @settings(max_examples=cases, deadline=None, phases=[Phase.explicit, Phase.generate], derandomize=True,
                      suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
            @given(case=strategy)
            def run(case) -> None:
                call(case)

            run()
        tried[operation.label] = count
    assert set(tried) >= {"GET /api/incidents", "GET /api/incidents/{incident_id}", "POST /api/incidents/{incident_id}/responses", "POST /api/incidents/{incident_id}/state"}, tried
    assert all(n > 0 for n in tried.values()), tried
