"""VK collectors against a fake VK API served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator

import pytest

from collectors.base import CollectedPost, RetryLater, SourceFailing
from collectors.sources import parse_source_url
from collectors.vk import VkClient, VkClientOptions, VkCollector
from tests.fakes.fake_vk import FakeVk
from tests.fakes.server import serve

OWNER = -123
DAY = 86400


_clients: list[VkClient] = []


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeVk, str]]:
    vk = FakeVk()
    with serve(vk.app()) as srv:
        yield vk, srv.url + "/method/"
        while _clients:
            await _clients.pop().close()


class VirtualClock:
    """Time that moves only when the client sleeps: rate tests are exact on a loaded machine."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


def make_client(url: str, tokens: list[tuple[str, str, float]] | None = None, sleeps: list[float] | None = None,
                clock: VirtualClock | None = None, **opts: Any) -> VkClient:
    async def sleep(s: float) -> None:
        if sleeps is not None:
            sleeps.append(s)

    if clock is not None:
        client = VkClient(tokens or [("user", "tok", 1000.0)], VkClientOptions(api_url=url, backoff=0.5, **opts),
                          clock=clock.now, sleep=clock.sleep)
        _clients.append(client)
        return client
    client = VkClient(tokens or [("user", "tok", 1000.0)], VkClientOptions(api_url=url, backoff=0.5, **opts),
                      sleep=sleep if sleeps is not None else asyncio.sleep)
    _clients.append(client)
    return client


class Store:
    """What the pipeline does with pages, in memory: last version per (platform, source, post id)."""

    def __init__(self) -> None:
        self.posts: dict[tuple[str, str, str], CollectedPost] = {}
        self.cursor: dict[str, Any] | None = None
        self.yielded: list[tuple[str, str, str]] = []

    async def crawl(self, collector: VkCollector, url: str, stop_after: int | None = None, **options: Any) -> int:
        spec = parse_source_url(url)
        spec = type(spec)(spec.platform, spec.kind, spec.key, spec.url, options)
        pages = 0
        async for page in collector.crawl(spec, self.cursor):
            for p in page.posts:
                key = (p.platform, p.source_key, p.post_id)
                self.yielded.append(key)
                self.posts[key] = p
            self.cursor = page.cursor
            pages += 1
            if stop_after is not None and pages >= stop_after:
                break
        return pages

    def ids(self, deleted: bool = False) -> set[int]:
        return {int(k[2]) for k, p in self.posts.items() if p.parent_id is None and p.deleted == deleted}


async def test_wall_pages_by_100_and_stops_at_high_water(fake):
    vk, url = fake
    vk.add_posts(OWNER, 250, step=60, newest=time.time() - 3600)
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    assert store.ids() == set(range(1, 251))
    assert store.cursor["high_water"] == 250 and store.cursor["pass"] is None
    assert [c.params["offset"] for c in vk.requests("wall.get")] == ["0", "100", "200"]
    assert all(c.params["count"] == "100" for c in vk.requests("wall.get"))
    post = store.posts[("vk", "-123", "250")]
    assert post.text == "Пост 250" and post.url == "https://vk.com/wall-123_250"
    assert post.author == "Сообщество 123" and post.published_at.tzinfo is not None and post.raw["id"] == 250

    vk.add_posts(OWNER, 5)
    vk.calls.clear()
    store.yielded.clear()
    await store.crawl(VkCollector(client, rescan_days=0), "https://vk.com/club123")
    assert {int(k[2]) for k in store.yielded} == set(range(251, 256))
    assert len(vk.requests("wall.get")) == 1


async def test_screen_name_wall_uses_domain_and_stores_under_owner_id(fake):
    vk, url = fake
    vk.domains["kemerovo_news"] = OWNER
    vk.add_posts(OWNER, 3)
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client), "https://vk.com/Kemerovo_News")
    assert vk.requests("wall.get")[0].params.get("domain") == "kemerovo_news"
    assert {k[1] for k in store.posts} == {"-123"} and store.cursor["owner_id"] == OWNER


async def test_pinned_old_post_does_not_stop_paging(fake):
    vk, url = fake
    vk.add_posts(OWNER, 150, newest=time.time() - 40 * DAY, step=600)
    vk.pin(OWNER, 3)
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client, initial_days=365), "https://vk.com/club123")
    assert store.ids() == set(range(1, 151))
    vk.add_posts(OWNER, 120, step=60)  # 120 new posts: the first page is pinned #3 then 99 new ones
    await store.crawl(VkCollector(client, rescan_days=1), "https://vk.com/club123")
    assert store.ids() == set(range(1, 271))
    assert store.cursor["high_water"] == 270


async def test_count_drift_while_paging_loses_and_duplicates_nothing(fake):
    vk, url = fake
    vk.add_posts(OWNER, 400, step=60)
    original = set(range(1, 401))
    deleted = set(range(330, 360))  # already read when they vanish: pulls unread posts up one page's worth

    def drift(v: FakeVk, method: str, form: dict[str, str]) -> None:
        n = len(v.requests("wall.get"))
        if method == "wall.get" and n == 2:
            v.add_posts(OWNER, 7)  # pushes everything down by 7
        if method == "wall.get" and n == 3:
            for pid in deleted:
                v.delete_post(OWNER, pid)

    vk.hooks.append(drift)
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client, initial_days=30), "https://vk.com/club123")
    assert original <= store.ids()
    assert len(store.yielded) == len(set(store.yielded)), "a post was yielded twice"
    vk.hooks.clear()
    await store.crawl(VkCollector(client, rescan_days=0), "https://vk.com/club123")
    assert store.ids() == set(range(1, 408))


async def test_interrupted_pass_resumes_from_cursor(fake):
    vk, url = fake
    vk.add_posts(OWNER, 350, step=60)
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client), "https://vk.com/club123", stop_after=2)  # "killed" after 2 pages
    assert store.cursor["pass"] is not None and store.cursor["high_water"] is None
    assert store.ids() == set(range(151, 351))
    vk.add_posts(OWNER, 4)  # arrive while the crawl is down
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    assert store.ids() == set(range(1, 351))
    assert len(store.yielded) == len(set(store.yielded))
    assert store.cursor["high_water"] == 350
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    assert store.ids() == set(range(1, 355))


async def test_rescan_window_records_edits_and_deletions(fake):
    vk, url = fake
    vk.add_posts(OWNER, 30, step=3600)  # 30 hours of posts
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    vk.edit_post(OWNER, 28, "Пост 28 (исправлено: нет воды)")
    vk.delete_post(OWNER, 25)
    vk.delete_post(OWNER, 2)  # outside the 1-day re-scan window: not noticed
    vk.calls.clear()
    await store.crawl(VkCollector(client, rescan_days=1), "https://vk.com/club123")
    edited = store.posts[("vk", "-123", "28")]
    assert edited.text == "Пост 28 (исправлено: нет воды)" and edited.edited_at is not None
    assert store.posts[("vk", "-123", "25")].deleted is True
    assert store.posts[("vk", "-123", "2")].deleted is False
    by_id = vk.requests("wall.getById")
    assert len(by_id) == 1 and by_id[0].params["posts"] == "-123_25"


async def test_comments_under_wall_posts(fake):
    vk, url = fake
    vk.add_posts(OWNER, 3, comments=2)
    vk.add_posts(-456, 2, comments=1)
    vk.errors["wall.getComments"] = []
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    comments = [p for p in store.posts.values() if p.parent_id is not None]
    assert len(comments) == 6
    c = sorted(comments, key=lambda p: p.post_id)[0]
    assert c.parent_id == "1" and c.post_id.startswith("1_") and c.text == "Комментарий 1 к посту 1"
    assert c.url.startswith("https://vk.com/wall-123_1?reply=")
    # Re-scan: comments are re-read only under posts whose comment count changed.
    vk.calls.clear()
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    assert vk.requests("wall.getComments") == []
    new = vk.add_comment(OWNER, 2, "Третий комментарий: до сих пор не починили")
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    assert [c.params["post_id"] for c in vk.requests("wall.getComments")] == ["2"]
    assert store.posts[("vk", "-123", f"2_{new['id']}")].text.startswith("Третий")
    # Comments closed under one post (212) do not stop the wall.
    vk.errors["wall.getComments"] = [212]
    store2 = Store()
    await store2.crawl(VkCollector(client), "https://vk.com/club456")
    assert store2.ids() == {1, 2} and len([p for p in store2.posts.values() if p.parent_id]) == 1


async def test_comments_source_follows_one_post(fake):
    vk, url = fake
    vk.add_posts(OWNER, 1)
    for i in range(150):
        vk.add_comment(OWNER, 1, f"Комментарий {i}")
    client = make_client(url)
    store = Store()
    spec = parse_source_url("https://vk.com/wall-123_1")
    assert (spec.kind, spec.key) == ("comments", "-123_1")
    await store.crawl(VkCollector(client), "https://vk.com/wall-123_1")
    assert len(store.posts) == 150
    victim = vk.comments[(OWNER, 1)][-3]
    vk.comments[(OWNER, 1)].remove(victim)
    vk.add_comment(OWNER, 1, "Новый")
    vk.errors["wall.getComments"] = [100]  # VK refuses the remembered start comment: read them all
    await store.crawl(VkCollector(client), "https://vk.com/wall-123_1")
    assert "start_comment_id" not in vk.requests("wall.getComments")[-1].params
    assert store.posts[("vk", "-123", f"1_{victim['id']}")].deleted
    assert len(store.posts) == 151
    vk.owner_errors[OWNER] = 212
    with pytest.raises(SourceFailing) as e:
        await store.crawl(VkCollector(client), "https://vk.com/wall-123_1")
    assert e.value.reason_code == "comments_access_denied"


@pytest.mark.parametrize("code", [6, 9, 10, 29])
async def test_flood_errors_are_retried_with_backoff(fake, code):
    vk, url = fake
    vk.add_posts(OWNER, 5)
    vk.errors["wall.get"] = [code, code]
    sleeps: list[float] = []
    client = make_client(url, sleeps=sleeps)
    store = Store()
    await store.crawl(VkCollector(client), "https://vk.com/club123")
    assert store.ids() == set(range(1, 6))
    assert len(vk.requests("wall.get")) == 3
    assert [round(s, 2) for s in sleeps if s >= 0.1] == [0.5, 1.0]  # exponential backoff

    vk.errors["wall.get"] = [code] * 10
    with pytest.raises(RetryLater) as e:
        await Store().crawl(VkCollector(client), "https://vk.com/club123")
    assert e.value.seconds == 300 and f"error {code}" in str(e.value)
    assert len(vk.requests("wall.get")) == 3 + 5  # bounded: 1 try + 4 retries


@pytest.mark.parametrize("code,reason", [
    (14, "captcha_needed"), (15, "access_denied"), (18, "user_deleted_or_banned"), (30, "private_profile"),
    (203, "group_access_denied"),
])
async def test_access_errors_mark_source_failing(fake, code, reason):
    vk, url = fake
    vk.owner_errors[OWNER] = code
    client = make_client(url)
    with pytest.raises(SourceFailing) as e:
        await Store().crawl(VkCollector(client), "https://vk.com/club123")
    assert e.value.reason_code == reason and str(code) in e.value.message
    assert len(vk.requests()) == 1  # not retried


async def test_newsfeed_search_splits_windows_over_1000(fake):
    vk, url = fake
    now = int(time.time())
    for i in range(2600):
        vk.search_posts.append({"id": i + 1, "owner_id": -(i % 7 + 1), "from_id": 5, "date": now - 100 - i * 60,
                                "text": f"В Кемерово прорвало трубу, дом {i}"})
    vk.search_posts.append({"id": 9, "owner_id": -9, "date": now - 500, "text": "про другой город"})
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client, initial_days=3), "vk-search:кемерово")
    assert len(store.posts) == 2600
    assert ("vk", "-3", "3") in store.posts  # stored under the wall's owner id
    calls = vk.requests("newsfeed.search")
    assert all(c.params["count"] == "200" and c.params["q"] == "кемерово" for c in calls)
    assert len({(c.params["start_time"], c.params["end_time"]) for c in calls}) >= 4  # split at least twice
    assert store.cursor["pass"] is None and store.cursor["high_water_time"] >= now


async def test_search_resumes_inside_a_window(fake):
    vk, url = fake
    now = int(time.time())
    for i in range(900):
        vk.search_posts.append({"id": i + 1, "owner_id": -1, "date": now - 100 - i * 60, "text": f"Прокопьевск {i}"})
    client = make_client(url)
    store = Store()
    await store.crawl(VkCollector(client), "vk-search:Прокопьевск", stop_after=2)
    assert store.cursor["pass"]["next_from"] == "400"
    await store.crawl(VkCollector(client), "vk-search:Прокопьевск")
    assert len(store.posts) == 900 and len(store.yielded) == 900


async def test_user_token_keeps_to_3_requests_per_second(fake):
    vk, url = fake
    vk.add_posts(OWNER, 700, step=1)
    clock = VirtualClock()
    vk.clock = clock.now
    client = make_client(url, [("user", "u1", 3.0)], clock=clock)
    store = Store()
    t0 = clock.now()
    await store.crawl(VkCollector(client, comments=False), "https://vk.com/club123")
    elapsed = clock.now() - t0
    times = [c.at for c in vk.requests("wall.get")]
    assert len(times) == 7 and len(store.posts) == 700
    assert elapsed >= (len(times) - 1) / 3 - 0.05
    assert all(times[i + 3] - times[i] >= 0.99 for i in range(len(times) - 3)), "more than 3 requests in a second"


async def test_tokens_round_robin_each_under_its_own_rate(fake):
    vk, url = fake
    vk.add_posts(OWNER, 3000, step=1)
    clock = VirtualClock()
    vk.clock = clock.now
    client = make_client(url, [("group", "g1", 20.0), ("user", "u1", 3.0)], clock=clock)
    t0 = clock.now()
    await Store().crawl(VkCollector(client, comments=False), "https://vk.com/club123")
    elapsed = clock.now() - t0
    calls = vk.requests("wall.get")
    assert len(calls) == 30
    per_token = {t: [c.at for c in calls if c.token == t] for t in ("g1", "u1")}
    assert len(per_token["u1"]) >= 3 and len(per_token["g1"]) >= 20
    for tok, limit in (("g1", 20), ("u1", 3)):
        ts = per_token[tok]
        assert all(ts[i + limit] - ts[i] >= 0.99 for i in range(len(ts) - limit)), tok
    assert elapsed < 29 / 20  # faster than the group token alone


async def test_unreachable_api_is_a_collector_error_after_bounded_retries():
    import socket

    from collectors.base import CollectorError

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    client = make_client(f"http://127.0.0.1:{port}/method/", sleeps=sleeps)
    with pytest.raises(CollectorError) as e:
        await Store().crawl(VkCollector(client), "https://vk.com/club123")
    assert e.value.code == "network" and "after 5 attempts" in str(e.value)
    assert [s for s in sleeps if s >= 0.5] == [0.5, 1.0, 2.0, 4.0]
    await client.close()
