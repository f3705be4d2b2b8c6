"""Browser tests of the incident lists (Playwright + Debian chromium): header search in one step,
filters kept in the URL, the specialist's inbox on a 390 px wide phone with the deadline on screen."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from storage.models import Incident, IncidentPost, Post, User
from tests.test_web_browser import ARGS, CHROMIUM, CSP_VIOLATIONS, PASSWORD, browser, no_csp_violations, pytestmark, sign_in, site  # noqa: F401


def test_header_search_finds_an_incident_by_a_word_of_its_text_in_one_step(site, browser):
    url, app = site["url"], site["app"]
    with app.db.session() as s:
        inc_id = s.scalar(select(IncidentPost.incident_id).join(Post, Post.id == IncidentPost.post_id).where(Post.text.like("%контейнеры не вывозят%")))
    assert inc_id is not None
    page = sign_in(browser, url, "operator")  # lands on the review queue
    box = page.locator("header form.search input[name=q]")
    box.fill("контейнеров")  # another case form of «контейнеры»
    with page.expect_navigation():
        box.press("Enter")
    assert urlsplit(page.url).path == "/incidents" and parse_qs(urlsplit(page.url).query)["q"] == ["контейнеров"]
    rows = page.locator("table.incidents tbody tr")
    assert rows.count() >= 1
    assert page.locator(f'tr[data-incident-id="{inc_id}"]').count() == 1
    # the full title on hover, the row one line high
    link = page.locator(f'tr[data-incident-id="{inc_id}"] td.title a')
    with app.db.session() as s:
        assert link.get_attribute("title") == s.get(Incident, inc_id).title
    heights = {round(rows.nth(n).bounding_box()["height"]) for n in range(rows.count())}
    assert max(heights) <= 40, heights


def test_filters_stay_in_the_url_and_in_the_form(site, browser):
    url = site["url"]
    page = sign_in(browser, url, "operator")
    page.goto(url + "/incidents")
    page.select_option("form.filters select[name=sector]", "housing")
    page.select_option("form.filters select[name=urgency]", "normal")
    page.fill("form.filters input[name=from]", "2020-01-01")
    page.check("form.filters input[name=overdue]")
    page.select_option("form.filters select[name=sort]", "due")
    with page.expect_navigation():
        page.click("form.filters button")
    q = parse_qs(urlsplit(page.url).query)
    assert q["sector"] == ["housing"] and q["urgency"] == ["normal"] and q["from"] == ["2020-01-01"] and q["overdue"] == ["1"] and q["sort"] == ["due"]
    shared = page.url
    other = sign_in(browser, url, "curator")  # a link sent to a colleague opens the same view
    other.goto(shared)
    assert other.locator("form.filters select[name=sector]").input_value() == "housing"
    assert other.locator("form.filters input[name=overdue]").is_checked()
    assert other.locator("form.filters input[name=from]").input_value() == "2020-01-01"
    csv_href = other.locator("form.filters a.csv").get_attribute("href")
    assert csv_href.startswith("/incidents.csv?") and "sector=housing" in csv_href and "overdue=1" in csv_href


def test_the_inbox_on_a_390_px_phone_shows_the_deadline(site, browser):
    url, app = site["url"], site["app"]
    with app.db.session() as s:
        spec = s.scalar(select(User).where(User.login == "specialist"))
        open_ids = list(s.scalars(select(Incident.id).where(Incident.authority_id == spec.authority_id, Incident.state.in_(("routed", "acknowledged", "answered", "reopened")))))
    assert open_ids, "the sample must give the specialist something to do"
    ctx = browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    page.on("console", lambda m: CSP_VIOLATIONS.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url + "/login")
    page.fill("input[name=login]", "specialist")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(url + "/inbox")
    row = page.locator("table.incidents tbody tr").first
    due = row.locator("td.due")
    box = due.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    assert due.inner_text().strip().startswith(("осталось", "просрочено", "—"))
    assert row.locator("td.title a").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushed off to the side
    ctx.close()
