"""Emerging problems on the dashboard in a real browser (Playwright driving Debian's chromium, headless, under the CSP):
a generated burst opens one alert; the ЦУР's operator sees it with its chart and follows it to an incident; a
specialist of an authority the alert's incidents are not routed to does not see it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from pipeline.alerts import check_emerging
from pipeline.incidents import ingest_analysis
from storage.models_alerts import Alert
from tests.helpers import A, add_post
from tests.test_alerts import TEXTS
from tests.test_web_browser import CSP_VIOLATIONS, browser, no_csp_violations, pytestmark, sign_in, site  # noqa: F401 - fixtures


def open_burst(app) -> int:
    """A month of one heating complaint a day in Новокузнецк, then 14 in six hours: one alert, open now."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    background = [now - timedelta(days=d, hours=3) for d in range(2, 30)]
    burst = [now - timedelta(minutes=20 * i) for i in range(14, 0, -1)]
    with app.db.session() as s:
        for n, at in enumerate(background + burst):
            post = add_post(s, TEXTS[n % 3].format(n=n + 100), at, source=f"-{n % 7 + 900}")
            ingest_analysis(s, app.region, post, A(), at)
    with app.db.session() as s:
        report = check_emerging(s, app.region, now)
        (alert,) = [a for a in (s.get(Alert, i) for i in report.opened)
                    if (a.municipality, a.sector, a.category) == ("novokuznetsk", "housing", "heating")]
        return alert.id


def test_the_operator_sees_the_alert_with_its_chart_and_follows_it(site, browser):
    url, app = site["url"], site["app"]
    alert_id = open_burst(app)

    op = sign_in(browser, url, "operator")
    op.goto(url + "/dashboard")
    item = op.locator(f'#alerts li[data-alert="{alert_id}"]')
    assert item.is_visible()
    text = item.inner_text()
    assert "Новокузнецкий городской округ" in text and "действует" in text
    assert int(re.search(r"за 24 ч новых постов: (\d+)", text).group(1)) >= 14  # the burst (and any sample post of the cell)
    chart = item.locator("svg")
    assert chart.count() == 1 and chart.bounding_box()["width"] > 100  # the chart of posts per day is drawn
    assert "Постов о проблеме по дням" in item.inner_html()
    link = item.locator('a[href^="/incidents/"]').first
    target = link.get_attribute("href")
    link.click()
    op.wait_for_load_state()
    assert op.url.endswith(target) and op.locator("h1").inner_text().startswith("Инцидент №" + target.rsplit("/", 1)[1])

    # a specialist of another authority (the sample's healthcare body): the heating alert is not theirs
    spec = sign_in(browser, url, "specialist")
    spec.goto(url + "/dashboard")
    assert spec.locator(f'#alerts li[data-alert="{alert_id}"]').count() == 0
    assert CSP_VIOLATIONS == []
