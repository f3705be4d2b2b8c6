"""The monthly report and the incident export against a hand count of an explicit event log.

The log below is built with explicit times around the month's edges in the
region's time zone (Kuzbass, UTC+7); the expected figures are counted by hand
in the comments and compared with what `cur report` writes into the HTML and
the XLSX (read back with openpyxl), and with `cur ratings` and `cur export incidents`.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import lxml.html
import pytest
from openpyxl import load_workbook

from storage import PostRecord, upsert_posts
from storage import events as ev
from storage.models import Authority, Incident, IncidentEvent, IncidentPost, Post

UTC = timezone.utc
H = timedelta(hours=1)
D = timedelta(days=1)


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


def build_log(db) -> dict[str, int]:
    """Incidents and events; returns incident ids by name."""
    ids = {}
    with db.session() as s:
        auth = {}
        for code, name in [("min_housing_roads", "Министерство ЖКХ"), ("min_social", "Министерство соцзащиты")]:
            auth[code] = Authority(region="kuzbass", code=code, name=name, role="ministry")
            s.add(auth[code])
        s.flush()
        A, B = auth["min_housing_roads"].id, auth["min_social"].id

        def incident(name, routed, authority, sector="housing", muni="kemerovo", created=None):
            d = {"first_reply": routed + 8 * H, "interim": routed + 24 * H, "final": routed + 9 * D}
            inc = Incident(region="kuzbass", title=f"Инцидент {name}", sector=sector, category="other", municipality=muni,
                           state=ev.ROUTED, authority_id=authority, created_at=created or routed - timedelta(minutes=5),
                           routed_at=routed, first_reply_due=d["first_reply"], interim_due=d["interim"], final_due=d["final"])  # fmt: skip
            s.add(inc)
            s.flush()
            ids[name] = inc.id
            add(inc, ev.CREATED, inc.created_at)
            add(inc, ev.ROUTED_EV, routed, authority_id=authority, data={"rule": 0, "due": {k: v.isoformat() for k, v in d.items()}})
            return inc

        def add(inc, kind, at, **kw):
            s.add(IncidentEvent(incident_id=inc.id, at=at, actor="тест", kind=kind, **kw))

        # A: on time everywhere, resolved, graded 5
        i1 = incident("I1", utc(2025, 11, 2, 3), A)
        add(i1, ev.ANSWER_FIRST, i1.routed_at + 2 * H)
        add(i1, ev.ANSWER_INTERIM, i1.routed_at + 20 * H)
        add(i1, ev.ANSWER_FINAL, i1.routed_at + 3 * D)
        add(i1, ev.RESOLVED_EV, i1.routed_at + 3 * D + H)
        add(i1, ev.GRADED, i1.routed_at + 4 * D, data={"grade": 5})
        # A: first reply 10 h after routing (late); nothing more — interim and final late too
        i2 = incident("I2", utc(2025, 11, 5, 3), A)
        add(i2, ev.ANSWER_FIRST, i2.routed_at + 10 * H)
        # A: never answered, escalated once
        i3 = incident("I3", utc(2025, 11, 10, 3), A, muni="novokuznetsk")
        add(i3, ev.ESCALATED, i3.routed_at + 9 * H, data={"stage": "first_reply", "level": 1, "role": "specialist"})
        # B: on time, resolved, then reopened; graded 2
        i4 = incident("I4", utc(2025, 11, 12, 3), B, sector="social", muni="novokuznetsk")
        add(i4, ev.ANSWER_FIRST, i4.routed_at + 1 * H)
        add(i4, ev.ANSWER_INTERIM, i4.routed_at + 12 * H)
        add(i4, ev.ANSWER_FINAL, i4.routed_at + 2 * D)
        add(i4, ev.RESOLVED_EV, i4.routed_at + 2 * D)
        add(i4, ev.REOPENED_EV, i4.routed_at + 5 * D, data={"reason": "снова"})
        add(i4, ev.GRADED, i4.routed_at + 6 * D, data={"grade": 2})
        # B: routed 30 Nov 23:00 local — deadlines fall in December: pending, not overdue
        incident("I5", utc(2025, 11, 30, 16), B, sector="social", muni="prokopyevsk")
        # A, then rerouted to B 2 h later with fresh deadlines; B replies in 1 h
        i8 = incident("I8", utc(2025, 11, 15, 3), A, muni="prokopyevsk")
        r8 = i8.routed_at + 2 * H
        d8 = {"first_reply": r8 + 8 * H, "interim": r8 + 24 * H, "final": r8 + 9 * D}
        add(i8, ev.REROUTED, r8, authority_id=B, data={"from_authority_id": A, "reason": "не наш", "due": {k: v.isoformat() for k, v in d8.items()}})
        add(i8, ev.ANSWER_FIRST, r8 + H)
        # outside November in local time: 31 Oct 23:00 and 1 Dec 00:30
        i6 = incident("I6", utc(2025, 10, 31, 16), A)
        add(i6, ev.ANSWER_FIRST, utc(2025, 11, 1, 1))
        add(i6, ev.ESCALATED, utc(2025, 10, 31, 16, 30), data={"stage": "first_reply", "level": 1, "role": "specialist"})
        incident("I7", utc(2025, 11, 30, 17, 30), B)
    return ids


# Hand count for November 2025 (local), reckoned at the end of the month (a past month:
# `cur report` reckons at min(end of month, now)):
# assignments: A = I1, I2, I3, I8(A, 2 h); B = I4, I5, I8(B)                    -> 7
# first replies: I1 2 h, I2 10 h, I4 1 h, I8(B) 1 h                             -> 4, median 1.5 h
# first reply decided: A: I1 on time, I2 late, I3 late (I8(A) lost it before the due) -> 1/3
#                      B: I4 on time, I8(B) on time (I5 due in December)           -> 2/2
# overall on time 3/5 = 60 %
# final answers: I1, I4 -> 2; resolved: I1, I4 -> 2; reopened: I4 -> 1
# overdue (any stage missed by 30 Nov 24:00): I2, I3 (A), I8(B) interim+final -> 3
# created in November: I1 I2 I3 I4 I5 I8 -> 6; escalations in November: I3 -> 1
# score A = 100·(0.30·1/3 + 0.20·1/4 + 0.20·1/4 + 0.15·(1−0/1) + 0.15·(5−1)/4) = 50.0
# score B = 100·(0.30·2/2 + 0.20·1/3 + 0.20·1/3 + 0.15·(1−1/1) + 0.15·(2−1)/4) = 47.1
SCORE_A = 100 * (0.30 / 3 + 0.20 / 4 + 0.20 / 4 + 0.15 + 0.15)
SCORE_B = 100 * (0.30 + 0.20 / 3 + 0.20 / 3 + 0 + 0.15 * 0.25)


def _table(doc, id_: str) -> list[list[str]]:
    return [[c.text_content().strip() for c in tr.xpath("./td")] for tr in doc.get_element_by_id(id_).xpath(".//tr")[1:]]


def test_monthly_report_matches_a_hand_count(db, cur, tmp_path):
    ids = build_log(db)
    out = tmp_path / "out"
    r = cur("report", "--month", "2025-11", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert "report-2025-11.html" in r.stdout and "report-2025-11.xlsx" in r.stdout

    # ---- XLSX read back
    wb = load_workbook(out / "report-2025-11.xlsx")
    assert wb.sheetnames == ["Сводка", "По направлениям", "По муниципалитетам", "Рейтинг", "Официальные страницы", "Просроченные",
                             "Возникающие проблемы", "Возможные фейки", "Адреса"]
    summary = {row[0]: row[1] for row in wb["Сводка"].iter_rows(min_row=3, values_only=True)}
    assert summary["Новых инцидентов"] == 6
    assert summary["Направлено исполнителям (назначений)"] == 7
    assert summary["Дан первичный ответ"] == 4
    assert summary["Первичных ответов в срок"] == pytest.approx(0.6)
    assert summary["Медиана времени до первичного ответа, ч"] == pytest.approx(1.5)
    assert summary["Дан окончательный ответ"] == 2
    assert summary["Решено"] == 2
    assert summary["Открыто повторно после решения"] == 1
    assert summary["Просрочено (нарушен хотя бы один срок)"] == 3
    assert summary["Эскалаций"] == 1

    ratings = list(wb["Рейтинг"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[1], row[3]) for row in ratings] == [(1, "min_housing_roads", 4), (2, "min_social", 3)]
    assert ratings[0][4] == pytest.approx(1 / 3) and ratings[1][4] == pytest.approx(1.0)
    assert ratings[0][10] == pytest.approx(round(SCORE_A, 1)) and ratings[1][10] == pytest.approx(round(SCORE_B, 1))
    assert ratings[1][8] == pytest.approx(1.0) and ratings[1][9] == pytest.approx(2.0)  # reopened share, mean grade
    assert wb["Рейтинг"]._charts and wb["По направлениям"]._charts  # native Excel charts

    sectors = {row[0]: row for row in wb["По направлениям"].iter_rows(min_row=2, values_only=True)}
    # housing: I1 I2 I3 I8(A) I8(B), overdue I2 I3 I8(B); social: I4, I5, none overdue
    assert {k: (row[1], row[7]) for k, row in sectors.items()} == {"ЖКХ": (5, 3), "Социальная защита": (2, 0)}
    munis = {row[0]: row[1] for row in wb["По муниципалитетам"].iter_rows(min_row=2, values_only=True)}
    assert munis == {
        "Кемеровский городской округ (г. Кемерово)": 2,  # I1, I2
        "Новокузнецкий городской округ (г. Новокузнецк)": 2,  # I3, I4
        "Прокопьевский городской округ (г. Прокопьевск)": 3,  # I5, I8(A), I8(B)
    }

    overdue = list(wb["Просроченные"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in overdue] == [ids["I2"], ids["I3"], ids["I8"]]
    assert overdue[0][6] == "первичный ответ, промежуточный ответ, окончательный ответ"
    assert overdue[2][6] == "промежуточный ответ, окончательный ответ"
    # local wall time of the region (UTC+7): I2 routed 5 Nov 03:00 UTC = 10:00
    assert overdue[0][5] == datetime(2025, 11, 5, 10, 0)
    assert overdue[0][8] == datetime(2025, 11, 5, 20, 0)  # first reply 10 h later

    # ---- HTML: the same figures, self-contained
    html = (out / "report-2025-11.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.count("<svg ") == 2 and "<script" not in html  # inline SVG charts, nothing else
    doc = lxml.html.fromstring(html)
    hs = {row[0]: row[1] for row in _table(doc, "summary")}
    assert hs["Новых инцидентов"] == "6" and hs["Направлено исполнителям (назначений)"] == "7"
    assert hs["Первичных ответов в срок"] == "60,0%" and hs["Медиана времени до первичного ответа, ч"] == "1,50"
    assert hs["Просрочено (нарушен хотя бы один срок)"] == "3" and hs["Эскалаций"] == "1"
    hr = _table(doc, "ratings")
    assert [(row[0], row[1], row[-1]) for row in hr] == [
        ("1", "Министерство ЖКХ", f"{SCORE_A:.1f}".replace(".", ",")),
        ("2", "Министерство соцзащиты", f"{SCORE_B:.1f}".replace(".", ",")),
    ]
    assert [row[0] for row in _table(doc, "overdue")] == [f"№{ids['I2']}", f"№{ids['I3']}", f"№{ids['I8']}"]
    assert "ноябрь 2025" in html and "UTC+07:00" in html

    # ---- `cur ratings` prints the same ranking
    r = cur("ratings", "--month", "2025-11")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if "(min_" in ln]
    assert "min_housing_roads" in lines[0] and f"{SCORE_A:.1f}" in lines[0]
    assert "min_social" in lines[1] and f"{SCORE_B:.1f}" in lines[1]

    # a bad month is a clear error
    bad = cur("report", "--month", "ноябрь", "--output", str(out))
    assert bad.returncode == 1 and "ГГГГ-ММ" in bad.stderr


def test_export_incidents_fields_posts_and_times_with_offset(db, cur, tmp_path):
    with db.session() as s:
        upsert_posts(s, [
            PostRecord(platform="vk", source_key="vk:-100", external_id="555", published_at=utc(2025, 11, 2, 2), text="нет отопления"),
            PostRecord(platform="telegram", source_key="tg:kuzbass_news", external_id="77", published_at=utc(2025, 11, 2, 2, 30), text="и у нас нет"),
        ])  # fmt: skip
        a = Authority(region="kuzbass", code="min_housing_roads", name="Министерство ЖКХ", role="ministry")
        s.add(a)
        s.flush()
        inc = Incident(region="kuzbass", title="Нет отопления", sector="housing", category="heating", municipality="kemerovo",
                       urgency="high", state=ev.ANSWERED, authority_id=a.id, created_at=utc(2025, 11, 2, 2, 1),
                       routed_at=utc(2025, 11, 2, 2, 2), first_reply_due=utc(2025, 11, 2, 6, 2), interim_due=utc(2025, 11, 2, 14, 2),
                       final_due=utc(2025, 11, 5, 14, 2), first_reply_at=utc(2025, 11, 2, 3))  # fmt: skip
        s.add(inc)
        s.flush()
        for p in s.query(Post).all():
            s.add(IncidentPost(post_id=p.id, incident_id=inc.id, added_at=utc(2025, 11, 2, 3)))
        s.add(Incident(region="altai", title="чужой регион", state="new"))
    out = tmp_path / "inc.jsonl"
    r = cur("export", "incidents", "--format", "jsonl", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert "Выгружено инцидентов: 1" in r.stderr
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["authority_code"] == "min_housing_roads" and row["authority_name"] == "Министерство ЖКХ"
    assert (row["sector"], row["category"], row["municipality"], row["urgency"], row["state"]) == ("housing", "heating", "kemerovo", "high", "answered")
    assert row["posts"] == [
        {"platform": "vk", "source": "vk:-100", "external_id": "555"},
        {"platform": "telegram", "source": "tg:kuzbass_news", "external_id": "77"},
    ]
    assert row["routed_at"] == "2025-11-02T09:02:00+07:00"
    assert row["first_reply_due"] == "2025-11-02T13:02:00+07:00"
    assert row["interim_due"] == "2025-11-02T21:02:00+07:00"
    assert row["final_due"] == "2025-11-05T21:02:00+07:00"
    assert row["first_reply_at"] == "2025-11-02T10:00:00+07:00"
    assert row["resolved_at"] is None
    for key in ("first_reply_due", "interim_due", "final_due"):
        assert datetime.fromisoformat(row[key]).utcoffset() == timedelta(hours=7)

    r = cur("export", "incidents", "--format", "csv")
    assert r.returncode == 0, r.stderr
    (crow,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert crow["id"] == str(row["id"]) and crow["final_due"] == row["final_due"]
    assert json.loads(crow["posts"])[0]["external_id"] == "555"


def test_html_lists_at_most_200_overdue_incidents_and_points_to_the_xlsx(db, tmp_path):
    from config import Settings, load_configuration
    from pipeline.reports import HTML_OVERDUE_ROWS, OverdueRow, build_report, render_html, write_xlsx

    profile = load_configuration(Settings()).regions["kuzbass"]
    with db.session() as s:
        report = build_report(s, profile, "2025-11", utc(2025, 12, 5))
    assert report.overdue == [] and report.total.routed == 0
    t = utc(2025, 11, 3, 3)
    report.overdue = [OverdueRow(i, f"№{i}", "орган", "ЖКХ", "Кемерово", t, ["первичный ответ"], t, None) for i in range(1, 251)]
    doc = lxml.html.fromstring(render_html(report))
    assert len(_table(doc, "overdue")) == HTML_OVERDUE_ROWS == 200
    assert "Показаны первые 200 из 250" in doc.text_content()
    write_xlsx(report, tmp_path / "r.xlsx")
    assert load_workbook(tmp_path / "r.xlsx")["Просроченные"].max_row == 251  # header + every row


def test_incidents_count_in_the_month_they_were_opened_not_processed(db, profile):
    """A month of imported history processed later counts in its own month; the processing time is kept apart."""
    from pipeline.reports import build_report

    with db.session() as s:
        inc = Incident(region="kuzbass", title="Старая история", sector="housing", category="other", state=ev.NEW,
                       first_seen_at=utc(2025, 10, 10, 3), last_post_at=utc(2025, 10, 11, 3), created_at=utc(2025, 11, 5, 3))
        s.add(inc)
        s.flush()
        s.add(IncidentEvent(incident_id=inc.id, at=utc(2025, 11, 5, 3), actor="тест", kind=ev.CREATED))
    with db.session() as s:
        october = build_report(s, profile, "2025-10", utc(2025, 12, 5))
        november = build_report(s, profile, "2025-11", utc(2025, 12, 5))
    assert (october.created, october.created_processed) == (1, 0)
    assert (november.created, november.created_processed) == (0, 1)
    assert ("Создано обработкой за месяц (по времени обработки)", 1, "0") in november.summary()
