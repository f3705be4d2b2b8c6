"""Possible fakes in a real browser (Playwright driving Debian's chromium, headless, under the CSP):
the operator confirms a mark on the incident page and dismisses one in the review queue; adds a claim on /fakes."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import FakeMark, Incident
from tests.test_fakes_web import CLAIM, seed_marks
from tests.test_web_browser import CSP_VIOLATIONS, browser, no_csp_violations, pytestmark, sign_in, site  # noqa: F401 - fixtures


def test_confirm_on_the_incident_and_dismiss_in_the_queue(site, browser):
    url, app = site["url"], site["app"]
    ids = seed_marks(app)
    op = sign_in(browser, url, "operator")

    op.goto(f"{url}/incidents/{ids['inc1']}")
    block = op.locator("#incident-fakes")
    assert CLAIM in block.inner_text() and "Водоканал: вода в норме." in block.inner_text()
    block.locator(f'tr[data-mark="{ids["mark1"]}"] button[value="confirm"]').click()
    op.wait_for_load_state()
    assert op.url.split("?")[0].endswith(f"/incidents/{ids['inc1']}")
    assert "Метка подтверждена" in op.locator(".flash.ok").inner_text()
    assert "подтверждено" in op.locator(f'#incident-fakes tr[data-mark="{ids["mark1"]}"] td.decision').inner_text()
    assert op.locator("dd span.badge.red", has_text="возможный фейк").count() == 1  # the incident's flag, set by the confirmation

    op.goto(f"{url}/review")
    card = op.locator(f'#fake-marks article[data-mark="{ids["mark2"]}"]')
    assert CLAIM in card.inner_text()
    assert op.locator(f'#fake-marks article[data-mark="{ids["mark1"]}"]').count() == 0  # decided: no longer waiting
    card.locator('button[value="dismiss"]').click()
    op.wait_for_load_state()
    assert op.url.split("?")[0].endswith("/review") and "Метка отклонена" in op.locator(".flash.ok").first.inner_text()
    assert op.locator("#fake-marks").count() == 0

    with app.db.session() as s:
        assert {m.id: m.decision for m in s.scalars(select(FakeMark))} == {ids["mark1"]: "confirmed", ids["mark2"]: "dismissed"}
        assert s.get(Incident, ids["inc1"]).is_possible_fake and not s.get(Incident, ids["inc2"]).is_possible_fake

    op.goto(f"{url}/fakes")
    op.fill("textarea[name=claim]", "Мост через Томь закроют на полгода для ремонта")
    op.fill("textarea[name=refutation]", "Администрация: мост не закрывают.")
    op.fill("input[name=link]", "https://example.org/r/2")
    op.locator("#new-claim button", has_text="Добавить").click()
    op.wait_for_load_state()
    assert "добавлено в реестр" in op.locator(".flash.ok").inner_text()
    assert "Мост через Томь закроют на полгода для ремонта" in op.locator("table.claims").inner_text()
    assert CSP_VIOLATIONS == []
