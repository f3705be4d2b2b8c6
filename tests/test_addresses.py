"""Address-level incidents: street addresses in posts, grouping by them, sources' default municipalities.

The end-to-end tests run `cur import` and `cur process` as a user runs them, on SQLite and PostgreSQL,
with the real classifier.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from nlp.addresses import address_labels, key_label, street_addresses
from pipeline.incidents import GroupingOptions, ingest_analysis
from storage import Database
from storage import incidents as q
from storage.models import Incident, Post, PostAnalysis
from tests.helpers import A, add_post
from tests.test_incidents_process import models_dir  # noqa: F401  (the session's classifier)

T0 = datetime(2026, 11, 16, 1, 0, tzinfo=timezone.utc)

NORMALISED = [
    ("ул. Весенняя 12", ["весенний#12"]),
    ("Весенняя д.12", ["весенний#12"]),
    ("Весенней, 12", ["весенний#12"]),
    ("на Весенней 12", ["весенний#12"]),
    ("улица Весенняя, дом 12", ["весенний#12"]),
    ("пр-т Ленина, д. 5к2", ["ленин#5к2"]),
    ("проспект Ленина 5 корп. 2", ["ленин#5к2"]),
    ("проспект Ленина 5 стр. 1", ["ленин#5с1"]),
    ("ул. мира 7/1", ["мир#7/1"]),
    ("на Мира 3", ["мир#3"]),
    ("в доме на Гагарина 4Б", ["гагарин#4б"]),
    ("Маршала Жукова 5", ["жуков#5"]),
    ("ул. Мамина-Сибиряка 8", ["мамина-сибиряк#8"]),
    ("Новокузнецк, ул. Кирова 12 — третий день нет отопления", ["киров#12"]),
    ("Кирова 12а и Советская 3", ["киров#12а", "советский#3"]),
    ("Присоединяюсь, Весенняя д.12 отопления нет…", ["весенний#12"]),
    # not addresses: a bus, a school, an ordinal, durations, times
    ("Автобус 15 опять не пришёл", []),
    ("Школа 12 закрыта на карантин", []),
    ("Третий 12 раз пишу", []),
    ("Весенняя 12 дней без воды", []),
    ("Новые 5 автобусов вышли на линию", []),
    ("в 12:30 на Весенней", []),
    ("Уже 12 лет ждём ремонта", []),
]


@pytest.mark.parametrize("text, keys", NORMALISED)
def test_street_addresses_are_normalised_to_one_key(text, keys):
    assert street_addresses(text) == keys


LABELS = [
    ("ул. Весенняя 12", "ул. Весенняя, 12"),
    ("Присоединяюсь, Весенняя д.12 отопления нет", "ул. Весенняя, 12"),
    ("на Весенней, 12 холодно", "ул. Весенняя, 12"),
    ("пр-т Ленина, д. 5к2", "пр-т Ленина, 5к2"),
    ("на Кирова 12а", "ул. Кирова, 12а"),
    ("Маршала Жукова 5", "ул. Жукова, 5"),
    ("на Мира 3", "ул. Мира, 3"),
    ("Набережная Ушаковки 3", "наб. Ушаковки, 3"),
]


@pytest.mark.parametrize("text, label", LABELS)
def test_addresses_are_labelled_as_people_write_them(text, label):
    (key,) = street_addresses(text)
    assert address_labels(text) == {key: label}


@pytest.mark.parametrize("key, label", [("весенний#12", "ул. Весенняя, 12"), ("киров#12а", "ул. Кирова, 12а"), ("мир#3", "ул. Мира, 3"),
                                        ("жуков#5", "ул. Жукова, 5"), ("победа#5", "ул. Победы, 5")])
def test_a_key_alone_gets_a_label(key, label):
    assert key_label(key) == label


# --------------------------------------------------------------------------- grouping, no classifier


def test_address_joins_a_post_without_a_town_and_another_house_does_not(db, profile):
    with db.session() as s:
        first = add_post(s, "Кемерово, ул. Весенняя 12 — нет отопления, батареи ледяные", T0, source="-1")
        inc = ingest_analysis(s, profile, first, A(municipality="kemerovo"), T0)
        # another community, no town, few words in common: the address decides
        third = add_post(s, "Присоединяюсь, Весенняя д.12 отопления нет", T0 + timedelta(hours=3), source="-2")
        assert ingest_analysis(s, profile, third, A(municipality=None), T0 + timedelta(hours=3)).id == inc.id
        other = add_post(s, "Присоединяюсь, Весенняя д.14 отопления нет", T0 + timedelta(hours=4), source="-1")
        assert ingest_analysis(s, profile, other, A(municipality=None), T0 + timedelta(hours=4)).id != inc.id
        assert s.get(Incident, inc.id).details["streets"] == ["весенний#12"]
        # off: the rule of the lemmas alone (few shared words from another source: no join)
        late = add_post(s, "Весенняя д.12 без тепла", T0 + timedelta(hours=5), source="-3")
        off = GroupingOptions(address_level=False)
        assert ingest_analysis(s, profile, late, A(municipality=None), T0 + timedelta(hours=5), off).id != inc.id


def test_a_town_post_joins_an_earlier_town_less_incident_by_the_address(db, profile):
    """The other order: the comment without a town comes first, the post naming the town joins it by the address."""
    with db.session() as s:
        first = add_post(s, "Присоединяюсь, Весенняя д.12 отопления нет", T0, source="-2")
        inc = ingest_analysis(s, profile, first, A(municipality=None), T0)
        assert inc.municipality is None
        town = add_post(s, "Кемерово, ул. Весенняя 12 — нет отопления, батареи ледяные", T0 + timedelta(hours=1), source="-1")
        assert ingest_analysis(s, profile, town, A(municipality="kemerovo"), T0 + timedelta(hours=1)).id == inc.id
        # another house of the town: another incident, whatever the words
        other = add_post(s, "Кемерово, ул. Весенняя 14 — нет отопления, батареи ледяные", T0 + timedelta(hours=2), source="-1")
        assert ingest_analysis(s, profile, other, A(municipality="kemerovo"), T0 + timedelta(hours=2)).id != inc.id
        # a town's post naming no address does not join a town-less incident by words, even from its source
        words = add_post(s, "Кемерово: присоединяюсь, отопления нет, батареи ледяные", T0 + timedelta(hours=3), source="-2")
        assert ingest_analysis(s, profile, words, A(municipality="kemerovo"), T0 + timedelta(hours=3)).id != inc.id
        # nor one past the window
        late = add_post(s, "Кемерово, Весенняя 12: отопления так и нет", T0 + timedelta(days=5), source="-1")
        assert ingest_analysis(s, profile, late, A(municipality="kemerovo"), T0 + timedelta(days=5)).id != inc.id
        assert sorted(p.id for p in q.posts_of(s, inc.id)) == sorted([first.id, town.id])


async def test_the_incident_page_and_api_show_the_address(db_url, profile, aiohttp_client):
    from pipeline.accounts import tokens as api_tokens
    from storage.models import Authority
    from tests.test_web_security import add_users, make_ctx
    from tests.test_web_users import client_of

    app = make_ctx(db_url)
    try:
        with app.db.session() as s:
            from pipeline.incidents import sync_authorities

            sync_authorities(s, profile)
            first = add_post(s, "Присоединяюсь, Весенняя д.12 отопления нет", T0, source="-2")
            inc = ingest_analysis(s, profile, first, A(municipality=None), T0)
            town = add_post(s, "Кемерово, на Весенней 12 нет отопления", T0 + timedelta(hours=1), source="-1")
            assert ingest_analysis(s, profile, town, A(municipality="kemerovo"), T0 + timedelta(hours=1)).id == inc.id
            inc_id, code = inc.id, s.get(Authority, inc.authority_id).code
            _, token = api_tokens.issue_token(s, profile.code, code, datetime.now(timezone.utc), "test", "back office")
        add_users(app, [("op", "operator", None)])
        site = {"app": app}
        c = await client_of(site, aiohttp_client, "op")
        page = await (await c.get(f"/incidents/{inc_id}")).text()
        assert '<dt>Адрес</dt><dd class="addresses"><span class="address">ул. Весенняя, 12</span></dd>' in page
        r = await c.get(f"/api/incidents/{inc_id}", headers={"Authorization": f"Bearer {token}"})
        assert (await r.json())["addresses"] == [{"key": "весенний#12", "label": "ул. Весенняя, 12"}]
    finally:
        app.db.dispose()


# --------------------------------------------------------------------------- end to end: cur import + cur process

THREE = [
    ("-200001", "2026-11-16T08:10:00+07:00", "Кемерово, ул. Весенняя 12 — второй день нет отопления, батареи ледяные, в квартирах +15"),
    ("-200001", "2026-11-16T09:30:00+07:00", "В Кемерове на Весенней 12 до сих пор холодные батареи, отопления нет, УК не отвечает"),
    ("-200002", "2026-11-16T11:00:00+07:00", "Присоединяюсь, Весенняя д.12 отопления нет уже два дня, дети мёрзнут"),
]
OTHER_HOUSE = ("-200002", "2026-11-16T12:00:00+07:00", "Весенняя д.14 отопления нет уже два дня, дети мёрзнут, батареи холодные")


def _write(path, rows) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i, (source, date, text) in enumerate(rows, 1):
            f.write(json.dumps({"id": f"v{i}", "source": source, "platform": "vk", "author": f"Житель {i}",
                                "date": date, "text": text}, ensure_ascii=False) + "\n")


#: The same posts, the town-less comment first (the other order of grouping by the address).
TOWN_LESS_FIRST = [(THREE[2][0], "2026-11-16T07:00:00+07:00", THREE[2][2]), THREE[0], THREE[1]]


@pytest.mark.parametrize("order", ["town first", "town-less first"])
def test_three_posts_about_vesennyaya_12_make_one_incident(cur, cur_env, db_url, models_dir, tmp_path, order):
    if models_dir:
        cur_env["CUR_MODELS_DIR"] = models_dir
    data = tmp_path / "posts.jsonl"
    three = THREE if order == "town first" else TOWN_LESS_FIRST
    _write(data, three + [OTHER_HOUSE])
    r = cur("import", str(data), "--quiet")
    assert r.returncode == 0, r.stderr
    r = cur("process", "--quiet", "--now", "2026-11-16T13:00")
    assert r.returncode == 0, r.stderr
    db = Database(db_url)
    try:
        with db.session() as s:
            posts = {p.external_id: p for p in s.scalars(select(Post))}
            analyses = {a.post_id: a for a in s.scalars(select(PostAnalysis))}
            assert [analyses[posts[f"v{i}"].id].address for i in (1, 2, 3, 4)] == [
                "весенний#12", "весенний#12", "весенний#12", "весенний#14"]
            town_less = "v3" if order == "town first" else "v1"
            assert analyses[posts[town_less].id].municipality is None  # names no town
            incidents = {i: q.incident_of_post(s, posts[f"v{i}"].id) for i in (1, 2, 3, 4)}
            assert all(inc is not None for inc in incidents.values())
            assert incidents[1].id == incidents[2].id == incidents[3].id
            assert incidents[4].id != incidents[1].id  # another house
            assert incidents[1].municipality == ("kemerovo" if order == "town first" else None)
            inc_id = incidents[1].id
    finally:
        db.dispose()
    r = cur("incidents", "show", str(inc_id))
    assert r.returncode == 0 and "  адрес: ул. Весенняя, 12\n" in r.stdout, r.stdout + r.stderr


def test_source_default_municipality_and_suggestion(cur, cur_env, db_url, models_dir, tmp_path):
    if models_dir:
        cur_env["CUR_MODELS_DIR"] = models_dir
    data = tmp_path / "posts.jsonl"
    rows = [("-300001", f"2026-11-1{d}T10:00:00+07:00", text) for d, text in (
        (1, "Кемерово: на Весенней 3 прорвало трубу, нет холодной воды"),
        (2, "В Кемерове опять нет горячей воды на Садовой 7"),
        (3, "Кемерово, Садовая 9 — яма во дворе, машины бьют колёса"),
    )] + [("-300002", "2026-11-16T10:00:00+07:00", "Присоединяюсь, Весенняя д.12 отопления нет уже два дня, дети мёрзнут")]
    _write(data, rows)
    assert cur("import", str(data), "--quiet").returncode == 0
    r = cur("sources", "add", "https://vk.com/club300001", "https://vk.com/club300002")
    assert r.returncode == 0, r.stderr
    r = cur("sources", "add", "https://vk.com/club300002", "--municipality", "nowhere")
    assert r.returncode != 0 and "нет в профиле региона" in (r.stdout + r.stderr)
    r = cur("sources", "add", "https://vk.com/club300002", "--municipality", "kemerovo")
    assert r.returncode == 0 and "муниципалитет по умолчанию: Кемеровский городской округ" in r.stdout, r.stdout + r.stderr
    assert cur("process", "--quiet", "--now", "2026-11-16T13:00").returncode == 0
    db = Database(db_url)
    try:
        with db.session() as s:
            post = s.scalar(select(Post).where(Post.source_key == "-300002"))
            a = s.scalar(select(PostAnalysis).where(PostAnalysis.post_id == post.id))
            assert a.municipality == "kemerovo" and a.entities["municipality"]["how"] == "source"
    finally:
        db.dispose()
    # the town community's posts name Кемерово: suggested for it, then applied
    r = cur("sources", "list")
    assert "предлагается Кемеровский городской округ (г. Кемерово) (kemerovo): его называют 3 из 3 постов с местом" \
        in r.stdout, r.stdout
    r = cur("sources", "suggest", "--apply")
    assert r.returncode == 0 and "club300001: задан муниципалитет Кемеровский" in r.stdout, r.stdout
    assert "предлагается" not in cur("sources", "list").stdout


def test_the_monthly_report_lists_addresses_named_by_several_incidents(db, profile, tmp_path):
    from openpyxl import load_workbook

    from pipeline.reports import build_report, render_html, write_xlsx

    with db.session() as s:
        heat = add_post(s, "Кемерово, ул. Весенняя 12 — нет отопления", T0, source="-1")
        water = add_post(s, "Кемерово, Весенняя д.12: нет холодной воды второй день", T0 + timedelta(hours=2), source="-2")
        once = add_post(s, "Садовая 7: в подъезде ледяные батареи, управляющая компания трубку не берёт", T0 + timedelta(hours=3), source="-3")
        ids = [ingest_analysis(s, profile, p, A(municipality="kemerovo", category=c), p.published_at).id
               for p, c in ((heat, "heating"), (water, "water_supply"), (once, "heating"))]
        assert len(set(ids)) == 3  # another problem at the same house is another incident
        rep = build_report(s, profile, "2026-11", T0 + timedelta(days=20))
        part = build_report(s, profile, "2026-11", T0 + timedelta(days=20), authority_id=s.get(Incident, ids[0]).authority_id)
    (row,) = rep.addresses
    assert (row.label, row.incidents, len(row.sectors)) == ("ул. Весенняя, 12", sorted(ids[:2]), 1)
    assert row.municipality.startswith("Кемеровский городской округ")
    html = render_html(rep)
    assert "Адреса с несколькими инцидентами" in html and "<td>ул. Весенняя, 12</td>" in html
    write_xlsx(rep, tmp_path / "r.xlsx")
    rows = list(load_workbook(tmp_path / "r.xlsx")["Адреса"].iter_rows(values_only=True))
    assert rows[1][:3] == ("ул. Весенняя, 12", row.municipality, 2) and len(rows) == 2
    assert [a.incidents for a in part.addresses] in ([], [sorted(ids[:2])])  # an authority's part: its own incidents only
