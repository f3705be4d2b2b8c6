"""Official replies from Telegram accounts, end to end on both databases.

The real MTProto adapter (``collectors.telegram``) reads the fake telethon client of
``tests/fakes``; the real crawl loop stores the posts; the real processing pass (shipped
classifier) makes the incident and then finds the authority's reply: collect → process →
incident → official reply collected → first reply recorded.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from config import ConfigError, Settings, load_configuration, load_settings
from pipeline.crawl import Collectors, run_crawl
from pipeline.incidents import watched_stage
from pipeline.process import process_pending
from storage import Database
from storage import events as ev
from storage import incidents as q
from storage.models import (
    Authority,
    Incident,
    IncidentEvent,
    Post,
    PostAnalysis,
    Response,
)
from storage.sources import get_or_create_source
from tests.fakes.fake_telethon import FakeTelegramClient
from tests.test_incidents_process import make_app, models_dir  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
ADM_LINE = ("municipality: novokuznetsk, email: adm-novokuznetsk@kuzbass.example.invalid, telegram_chat_id: null, "
            "vk_accounts: []")
COMPLAINT = "Новокузнецк, ул. Кирова 12 — третий день нет отопления!!! дети спят в куртках"
# Fixed times near the real clock: the collector's first crawl only reads the last 30 days.
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=6)
H = timedelta(hours=1)


def region_dir(tmp_path: Path, accounts: str) -> Path:
    text = (ROOT / "config" / "regions" / "kuzbass.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^code: kuzbass$", "code: testkuz", text, count=1, flags=re.M)
    assert ADM_LINE in text
    text = text.replace(ADM_LINE, f"{ADM_LINE}, telegram_accounts: {accounts}")
    regions = tmp_path / "regions"
    regions.mkdir()
    (regions / "testkuz.yaml").write_text(text, encoding="utf-8")
    return regions


def crawl(db: Database, client: FakeTelegramClient, *keys: str) -> None:
    with db.session() as s:
        ids = [get_or_create_source(s, "telegram", "channel", k, url=f"https://t.me/{k}")[0].id for k in keys]
    reports = run_crawl(db, ids, Collectors(Settings(), telegram_client=client))
    assert [r.status for r in reports] == ["ok"] * len(keys), [r.message for r in reports]


def incident_state(db: Database, external_id: str, source_key: str) -> dict:
    """What a user sees of the incident of one post: state, times, responses, events."""
    with db.session() as s:
        post = s.scalar(select(Post).where(Post.external_id == external_id, Post.source_key == source_key))
        inc = q.incident_of_post(s, post.id)
        codes = {a.id: a.code for a in s.scalars(select(Authority))}
        return {
            "id": inc.id, "state": inc.state, "first_reply_at": inc.first_reply_at, "watched": watched_stage(inc),
            "first_reply_due": inc.first_reply_due, "final_due": inc.final_due,
            "responses": [(r.kind, r.channel, codes.get(r.authority_id), r.author, r.at, r.text,
                           s.get(Post, r.post_id).external_id if r.post_id else None)
                          for r in q.responses_of(s, inc.id)],
            "events": [(e.kind, e.at, e.actor) for e in q.events_of(s, inc.id)],
        }


def all_rows(db: Database) -> dict:
    with db.session() as s:
        return {
            "posts": sorted((p.source_key, p.external_id, p.parent_external_id, p.author_id, p.processed_at is not None)
                            for p in s.scalars(select(Post))),
            "incidents": sorted((i.id, i.state, i.first_reply_at) for i in s.scalars(select(Incident))),
            "responses": sorted((r.incident_id, r.post_id, r.at) for r in s.scalars(select(Response))),
            "events": sorted((e.incident_id, e.kind, e.at) for e in s.scalars(select(IncidentEvent))),
        }


@pytest.fixture
def world(db_url, models_dir, tmp_path):
    regions = region_dir(tmp_path, '["@Adm_Novokuznetsk", 4242]')
    app = make_app(db_url, models_dir, CUR_REGIONS_DIR=str(regions), CUR_REGION="testkuz")
    client = FakeTelegramClient()
    client.add_user(77, "vasya_77", "Василий")
    client.add_user(78, None, "Администрация Новокузнецка")  # a look-alike name, no username: not official
    client.add_user(79, "adm_novokuznetsk_fan", "Фан")
    client.add_user(4242, None, "Пресс-служба")  # the official account without a username: listed by id
    official = client.add_channel("Adm_Novokuznetsk")  # the administration's own channel
    yield app, app.ready_db(), client, official
    app.ready_db().dispose()


def test_comment_as_the_official_channel_in_the_discussion_group_is_the_first_reply(world):
    app, db, client, official = world
    news = client.add_channel("nk_live")
    group = client.add_channel("nk_live_chat", megagroup=True)
    client.link(news, group)
    news.add(COMPLAINT, date=T0)  # post 1: a subscriber's complaint published by the channel
    copy = group.add(COMPLAINT, date=T0, fwd_channel_post=1)
    crawl(db, client, "nk_live")
    assert process_pending(app, T0 + H).incidents_created == 1
    before = incident_state(db, "1", "nk_live")
    assert before["state"] == "routed" and before["watched"] == "first_reply" and before["first_reply_at"] is None

    # comments: a citizen, a look-alike name, a similar username — none of them is the administration
    citizen = group.add("поддерживаю, у нас на Кирова 14 тоже холодно", date=T0 + H, reply_to=copy.id, from_user=77)
    group.add("Разберёмся, ожидайте", date=T0 + H, reply_to=copy.id, from_user=78)
    group.add("Администрация уже в курсе", date=T0 + H, reply_to=citizen.id, reply_top=copy.id, from_user=79)
    crawl(db, client, "nk_live")
    assert process_pending(app, T0 + 2 * H).replies == 0
    after = incident_state(db, "1", "nk_live")
    assert {k: after[k] for k in ("state", "first_reply_at", "responses", "watched", "first_reply_due")} == {
        k: before[k] for k in ("state", "first_reply_at", "responses", "watched", "first_reply_due")}

    # the administration answers the citizen's comment, writing as its channel
    reply_at = T0 + 3 * H
    answer = group.add("Здравствуйте! Аварийная бригада направлена, тепло дадут к вечеру.", date=reply_at,
                       reply_to=citizen.id, reply_top=copy.id, from_channel=official.entity.id)
    crawl(db, client, "nk_live")
    report = process_pending(app, T0 + 4 * H)
    assert report.replies == 1 and report.official_comments == 1
    done = incident_state(db, "1", "nk_live")
    assert done["state"] == "answered" and done["first_reply_at"] == reply_at
    assert done["watched"] != "first_reply"  # the first-reply deadline stage is closed
    assert done["responses"] == [("first_reply", "telegram", "adm_novokuznetsk", "Канал Adm_Novokuznetsk", reply_at,
                                  "Здравствуйте! Аварийная бригада направлена, тепло дадут к вечеру.", f"d{answer.id}")]
    assert (ev.ANSWER_FIRST, reply_at, "Канал Adm_Novokuznetsk") in done["events"]
    with db.session() as s:
        stored = s.scalar(select(Post).where(Post.external_id == f"d{answer.id}"))
        assert (stored.author_id, stored.parent_external_id, stored.raw["reply_to_post_id"]) == (
            "@adm_novokuznetsk", "1", f"d{citizen.id}")
        # the answer is not a citizen's post: not classified, in no incident
        assert s.scalar(select(PostAnalysis).where(PostAnalysis.post_id == stored.id)) is None
        assert q.incident_of_post(s, stored.id) is None

    # rerun: collecting and processing again changes nothing
    rows = all_rows(db)
    crawl(db, client, "nk_live")
    assert process_pending(app, T0 + 5 * H).replies == 0
    assert all_rows(db) == rows


def test_reply_in_a_public_chat_by_an_account_listed_by_numeric_id(world):
    app, db, client, _ = world
    chat = client.add_channel("nk_chat", megagroup=True)  # a city chat read as a source itself
    complaint = chat.add(COMPLAINT, date=T0, from_user=77)
    crawl(db, client, "nk_chat")
    assert process_pending(app, T0 + H).incidents_created == 1
    chat.add("Не надо паниковать, всё починят", date=T0 + H, reply_to=complaint.id, from_user=79)
    crawl(db, client, "nk_chat")
    assert process_pending(app, T0 + 2 * H).replies == 0
    assert incident_state(db, str(complaint.id), "nk_chat")["first_reply_at"] is None

    reply_at = T0 + 2 * H + timedelta(minutes=5)
    answer = chat.add("Заявка передана в управляющую компанию, срок устранения — сутки.", date=reply_at,
                      reply_to=complaint.id, from_user=4242)
    crawl(db, client, "nk_chat")
    assert process_pending(app, T0 + 3 * H).replies == 1
    done = incident_state(db, str(complaint.id), "nk_chat")
    assert done["state"] == "answered" and done["first_reply_at"] == reply_at
    ((kind, channel, code, author, at, _text, post),) = done["responses"]
    assert (kind, channel, code, author, at, post) == (
        "first_reply", "telegram", "adm_novokuznetsk", "Пресс-служба", reply_at, str(answer.id))
    rows = all_rows(db)
    crawl(db, client, "nk_chat")
    process_pending(app, T0 + 4 * H)
    assert all_rows(db) == rows


def test_only_incidents_waiting_for_a_first_reply_and_each_message_once(world):
    app, db, client, official = world
    news = client.add_channel("nk_live")
    group = client.add_channel("nk_live_chat", megagroup=True)
    client.link(news, group)
    news.add(COMPLAINT, date=T0)
    copy = group.add(COMPLAINT, date=T0, fwd_channel_post=1)
    crawl(db, client, "nk_live")
    process_pending(app, T0 + H)
    first = group.add("Бригада выехала.", date=T0 + H, reply_to=copy.id, from_channel=official.entity.id)
    second = group.add("Тепло дали.", date=T0 + 2 * H, reply_to=copy.id, from_channel=official.entity.id)
    crawl(db, client, "nk_live")
    assert process_pending(app, T0 + 3 * H).replies == 1  # the earlier message is the first reply
    done = incident_state(db, "1", "nk_live")
    assert done["first_reply_at"] == T0 + H and [r[-1] for r in done["responses"]] == [f"d{first.id}"]
    assert f"d{second.id}" not in [r[-1] for r in done["responses"]]


def test_bad_telegram_account_names_file_and_line(tmp_path):
    regions = region_dir(tmp_path, '["@adm_nk", "ab"]')
    with pytest.raises(ConfigError) as e:
        load_configuration(load_settings(env={"CUR_REGIONS_DIR": str(regions), "CUR_REGION": "testkuz"}))
    message = str(e.value)
    text = (regions / "testkuz.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if "telegram_accounts" in t)
    assert f"testkuz.yaml:{line}" in message and "telegram_accounts" in message and "'ab'" in message


def test_profile_keeps_usernames_lower_case_without_at_and_ids_as_numbers(tmp_path):
    regions = region_dir(tmp_path, '["@Adm_Novokuznetsk", 4242, "-1001234567890"]')
    cfg = load_configuration(load_settings(env={"CUR_REGIONS_DIR": str(regions), "CUR_REGION": "testkuz"}))
    adm = cfg.regions["testkuz"].region.authority("adm_novokuznetsk")
    assert adm.telegram_accounts == ["adm_novokuznetsk", "4242", "-1001234567890"]


def test_channel_replying_to_its_own_post_via_the_web_preview_parser():
    """t.me/s/ shows a reply's link: same channel → parent, another channel → no parent."""
    from collectors.tgweb import parse_page
    from tests.fakes.fake_tgweb import render_page

    posts = [{"id": 5, "text": "Авария на теплотрассе", "date": 1700000000},
             {"id": 6, "text": "Подача тепла восстановлена", "date": 1700003600, "reply_text": "Авария", "reply_to": 5},
             {"id": 7, "text": "Ответ жителю", "date": 1700007200, "reply_text": "Жалоба", "reply_to": 40,
              "reply_channel": "other_channel"}]
    found = {f["id"]: f["reply_to"] for f in parse_page(render_page("Adm_Novokuznetsk", posts), "adm_novokuznetsk")}
    assert found == {5: None, 6: 5, 7: None}
