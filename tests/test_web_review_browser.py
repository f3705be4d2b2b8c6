"""The review queue in a real browser (Playwright driving Debian's chromium, headless): a decision
without a page reload and the focus on the next card at once, the Russian layout, undo, the
type-ahead, filters in the URL, a reject refused without its reason, the curator's read-only view."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import ReviewDecision
from tests.test_web_browser import CSP_VIOLATIONS, browser, no_csp_violations, pytestmark, sign_in, site  # noqa: F401 - fixtures

FOCUSED = "() => { const a = document.activeElement; return a && a.dataset ? a.dataset.postId || null : null; }"


def card_ids(page) -> list[str]:
    return page.eval_on_selector_all("#queue article.review:not(.done)", "els => els.map(e => e.dataset.postId)")


def focused(page) -> str | None:
    return page.evaluate(FOCUSED)


def decisions(app) -> dict[int, tuple[str, bool]]:
    with app.db.session() as s:
        return {d.post_id: (d.decision, d.reverted_at is not None) for d in s.scalars(select(ReviewDecision))}


def test_decide_without_reload_focus_moves_and_undo(site, browser):
    url, app = site["url"], site["app"]
    op = sign_in(browser, url, "operator")
    assert op.url.endswith("/review")
    ids = card_ids(op)
    assert len(ids) == 6 and focused(op) == ids[0]
    assert not op.locator("#review-editor").is_visible()  # only when E, N or M opens it
    op.evaluate("window.__sameDocument = true")
    count = op.locator("#review-count").inner_text()

    # Enter confirms the model's reading; the next card has the focus at once (before the server answers)
    focus_after = op.evaluate(
        "() => { document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {code: 'Enter', key: 'Enter', bubbles: true}));"
        " return document.activeElement.dataset.postId; }"
    )
    assert focus_after == ids[1]
    op.wait_for_selector(f'#post-{ids[0]}[data-state="saved"]', state="attached")
    assert op.evaluate("window.__sameDocument") is True  # no reload
    assert int(op.locator("#review-count").inner_text()) == int(count) - 1
    assert "решение сохранено" in op.locator("#review-status").inner_text()
    assert decisions(app)[int(ids[0])] == ("confirm", False)

    # U undoes it: the card is back and has the focus; the decision row stays, marked undone
    op.keyboard.press("u")
    op.wait_for_function(f"() => document.activeElement && document.activeElement.dataset.postId === '{ids[0]}'")
    assert "отменено" in op.locator("#review-status").inner_text()
    assert op.locator(f"#post-{ids[0]}").is_visible()
    assert int(op.locator("#review-count").inner_text()) == int(count)
    assert decisions(app)[int(ids[0])] == ("confirm", True)
    assert op.evaluate("window.__sameDocument") is True


def test_russian_layout_skip_and_type_ahead(site, browser):
    url, app = site["url"], site["app"]
    op = sign_in(browser, url, "operator")
    ids = card_ids(op)
    # the key at J's place on a Russian layout gives «о»: the code is what counts
    op.evaluate("() => document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyJ', key: 'о', bubbles: true}))")
    assert focused(op) == ids[1]
    op.evaluate("() => document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyK', key: 'л', bubbles: true}))")
    assert focused(op) == ids[0]
    op.evaluate("() => document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyJ', key: 'о', bubbles: true}))")
    # a skipped post does not come back to the top: after a reload it is the last card
    op.reload()
    assert card_ids(op)[-1] == ids[0] and focused(op) == ids[1]

    # E (У on a Russian layout) opens the type-ahead with the model's reading; typing filters the list
    op.evaluate("() => document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyE', key: 'у', bubbles: true}))")
    box = op.locator(f"#post-{ids[1]} #review-editor input[name=classification]")
    assert box.is_visible() and box.evaluate("e => e === document.activeElement")
    assert " — " in box.input_value()  # «Направление — Категория», not a code
    box.fill("абракадабра")
    box.press("Enter")
    assert "из списка" in op.locator("#review-editor .ed-error").inner_text()  # no category has that in its name
    box.fill("медучрежд")
    op.select_option(f"#post-{ids[1]} #review-editor select[name=urgency]", "high")
    box.press("Enter")
    op.wait_for_selector(f'#post-{ids[1]}[data-state="saved"]', state="attached")
    with app.db.session() as s:
        d = s.scalar(select(ReviewDecision).where(ReviewDecision.post_id == int(ids[1])))
        assert (d.decision, d.sector, d.category, d.urgency) == ("correct", "healthcare", "facilities", "high")


def test_reject_needs_a_reason(site, browser):
    url, app = site["url"], site["app"]
    op = sign_in(browser, url, "operator")
    first = card_ids(op)[0]
    op.keyboard.press("n")
    reason = op.locator(f"#post-{first} #review-editor input[name=comment]")
    assert reason.is_visible()
    reason.press("Enter")
    assert "Укажите причину" in op.locator("#review-editor .ed-error").inner_text()
    assert int(first) not in decisions(app)
    reason.fill("реклама, не обращение")
    reason.press("Enter")
    assert not op.locator("#review-editor").is_visible()
    op.wait_for_selector(f'#post-{first}[data-state="saved"]', state="attached")
    with app.db.session() as s:
        d = s.scalar(select(ReviewDecision).where(ReviewDecision.post_id == int(first)))
        assert (d.decision, d.comment) == ("not_problem", "реклама, не обращение")
    # a refusal of the server comes back on the card, in Russian, and the card keeps its place
    second = card_ids(op)[0]
    op.route("**/review/" + second, lambda route: route.fulfill(status=409, content_type="application/json",
                                                             body='{"ok": false, "error": "Действие не выполнено: проверка"}'))
    op.keyboard.press("Enter")
    op.wait_for_function(f"() => document.activeElement && document.activeElement.dataset.postId === '{second}'")
    assert "Действие не выполнено" in op.locator(f"#post-{second} .card-status").inner_text()


def test_filters_in_the_url(site, browser):
    url = site["url"]
    op = sign_in(browser, url, "operator")
    op.select_option("#review-filters select[name=sector]", "housing")
    with op.expect_navigation():
        op.click("#review-filters button")
    assert "sector=housing" in op.url
    housing = card_ids(op)
    assert 1 <= len(housing) < 6
    assert all("ЖКХ" in op.locator(f"#post-{i} .sector").inner_text() for i in housing)
    assert "из 6" in op.locator("h1").inner_text()
    op.fill("#review-filters input[name=q]", "отопления")
    with op.expect_navigation():
        op.press("#review-filters input[name=q]", "Enter")
    assert "q=" in op.url and "sector=housing" in op.url
    assert len(card_ids(op)) == 1
    # a post the model gave no sector: Enter has nothing to confirm and opens the type-ahead instead
    op.goto(url + "/review?source=vk%3A-100006")
    (garage,) = card_ids(op)
    op.keyboard.press("Enter")
    assert op.locator(f"#post-{garage} #review-editor input[name=classification]").is_visible()
    assert "не определила направление" in op.locator("#review-editor .ed-error").inner_text()
    op.keyboard.press("Escape")
    assert focused(op) == garage
    op.goto(url + "/review?urgency=high")
    assert all(op.locator(f"#post-{i}").get_attribute("class").split().count("urgent") == 1 for i in card_ids(op))
    assert len(card_ids(op)) == 2


def test_curator_sees_no_actions(site, browser):
    url, app = site["url"], site["app"]
    cur = sign_in(browser, url, "curator")
    cur.goto(url + "/review")
    ids = card_ids(cur)
    assert len(ids) == 6
    assert cur.locator("form.decide").count() == 0 and cur.locator("#queue button").count() == 0
    assert cur.locator("#review-editor").count() == 0 and cur.locator("#review-undo").count() == 0
    help_text = cur.locator("p.help").inner_text()
    assert "только для просмотра" in help_text and "Enter" not in help_text and "подтвердить" not in help_text
    assert focused(cur) == ids[0]
    cur.keyboard.press("Enter")
    cur.keyboard.press("n")
    cur.keyboard.press("j")  # moving through the queue still works
    assert focused(cur) == ids[1]
    cur.wait_for_timeout(300)
    assert decisions(app) == {}
    # the endpoint refuses the curator even if the page were forged
    status = cur.evaluate(
        "async (id) => { const r = await fetch('/review/' + id, {method: 'POST', headers: {'Accept': 'application/json',"
        " 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': document.querySelector('input[name=csrf_token]').value},"
        " body: 'decision=confirm'}); return [r.status, (await r.json()).error]; }",
        ids[0],
    )
    assert status[0] == 403 and "Недостаточно прав" in status[1]
    assert decisions(app) == {}
