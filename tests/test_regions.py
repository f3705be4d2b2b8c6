"""The five shipped region profiles: what each takes from its regulation, and
that the pipeline's real router and gazetteer do the right thing with them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from config import FIXED_SECTORS
from config.loader import load_deadlines, load_region, load_taxonomy
from config.schema import AuthorityRole
from nlp.places import Gazetteer
from pipeline.routing import route
from tests.conftest import ROOT

CONFIG = ROOT / "config"

#: Block names exactly as each regulation lists them, in its order.
SEED_BLOCKS = {
    # Структура item 5 / Положение 3.1, 3.6
    "kuzbass": [
        "жилищно-коммунальное и дорожное хозяйство", "социальная защита", "здравоохранение", "транспорт",
        "образование", "труд и занятость", "природа и экология", "строительство", "энергетика", "промышленность",
    ],
    # Положение 2.1
    "altai": [
        "Жилищно-коммунальное хозяйство", "Твердые коммунальные отходы", "Энергетика", "Образование",
        "Здравоохранение", "Дороги", "Транспорт", "Социальная защита", "Труд и занятость",
    ],
    # Структура items 4–9
    "pskov": [
        "Жилищно-коммунальное хозяйство", "Твердые коммунальные отходы", "Энергетика", "Образование",
        "Здравоохранение", "Дороги", "Транспорт", "Социальная защита",
    ],
    # Положение 4.2
    "murmansk": [
        "здравоохранение", "образование", "социальная защита", "жилищно-коммунальное хозяйство",
        "твердые коммунальные отходы", "дороги", "транспорт", "энергетика", "благоустройство",
    ],
    # Положение 3.1
    "kherson": [
        "жилищно-коммунальное хозяйство", "твердые коммунальные отходы", "энергетика", "образование",
        "здравоохранение", "дороги", "транспорт", "социальная защита", "экология",
    ],
}

#: Blocks a region adds under its "additional directions/blocks" clause.
EXTRA_BLOCKS = {"altai": ["ecology"], "murmansk": ["arctic"]}

#: Position names quoted from the regulations.
SEED_ROLES = {
    "kuzbass": {
        "curator": "Заместитель Губернатора Кемеровской области – Кузбасса (по внутренней политике)",
        "tech_operator": "Министр цифрового развития и связи Кузбасса",
        "media": "Начальник главного управления по работе со средствами массовой информации Администрации Правительства Кузбасса",
    },
    "altai": {
        "executive": "Начальник (заместитель начальника) управления печати и массовых коммуникаций Алтайского края",
    },
    "pskov": {
        "curator": "Руководитель Аппарата Администрации Псковской области",
        "executive": "Начальник Управления цифрового развития и связи Администрации Псковской области",
        "media": "Начальник Управления информационной политики Администрации Псковской области",
    },
    "murmansk": {"media": "Министерство информационной политики Мурманской области"},
    "kherson": {"media": "Ответственный за работу с масс-медиа ЦУР Херсонской области"},
}

REGULATIONS = {
    "kuzbass": ("3 ноября 2020", "№ 651"),
    "altai": ("14.10.2020", "№ 179"),
    "pskov": ("18.09.2020", "№ 336"),
    "murmansk": ("13.07.2023", "№ 513-ПП"),
    "kherson": ("31.05.2023", "№ 120-у"),
}

#: UTC offset in winter (none of the regions observes daylight saving time).
OFFSETS = {"kuzbass": 7, "altai": 7, "pskov": 3, "murmansk": 3, "kherson": 3}


@pytest.fixture(scope="module")
def profiles():
    taxonomy = load_taxonomy(CONFIG / "taxonomy.yaml")
    deadlines = load_deadlines(CONFIG / "deadlines.yaml")
    return {code: load_region(CONFIG / "regions" / f"{code}.yaml", taxonomy, deadlines) for code in SEED_BLOCKS}


def test_exactly_the_five_seed_regions_are_shipped():
    assert sorted(p.stem for p in (CONFIG / "regions").glob("*.yaml")) == sorted(SEED_BLOCKS)


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_blocks_are_the_regulations_own(profiles, code):
    region = profiles[code].region
    names = [b.name for b in region.blocks]
    assert names[: len(SEED_BLOCKS[code])] == SEED_BLOCKS[code]
    assert [b.code for b in region.blocks[len(SEED_BLOCKS[code]):]] == EXTRA_BLOCKS.get(code, [])


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_roles_and_regulation(profiles, code):
    region = profiles[code].region
    roles = {a.role for a in region.authorities}
    assert {AuthorityRole.curator, AuthorityRole.executive, AuthorityRole.head, AuthorityRole.media} <= roles
    # only Kuzbass (технический оператор) and Altai (технический администратор) name one
    assert (AuthorityRole.tech_operator in roles) == (code in ("kuzbass", "altai"))
    for role, name in SEED_ROLES[code].items():
        assert name in [a.name for a in region.authorities if a.role.value == role], (code, role)
    date, number = REGULATIONS[code]
    assert date in region.regulation and number in region.regulation


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_every_active_sector_has_a_block_and_a_responsible_head(profiles, code):
    profile = profiles[code]
    region = profile.region
    active = {s.code for s in profile.sectors}
    assert active == (set(FIXED_SECTORS) - set(region.disabled_sectors)) | {s.code for s in region.extra_sectors}
    covered = [s for b in region.blocks for s in b.sectors]
    assert set(covered) == active
    assert len(covered) == len(set(covered)), "a sector belongs to one block only"
    for b in region.blocks:
        head = region.authority(b.head)
        assert head is not None and head.role is AuthorityRole.sector_head
        assert set(b.sectors) <= set(head.sectors), (code, b.code)
    # and a regional body (ministry or organisation) answers for every sector
    answering = {s for a in region.authorities if a.role in (AuthorityRole.ministry, AuthorityRole.organisation) for s in a.sectors}
    assert active <= answering, (code, active - answering)


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_municipalities_have_variants_and_their_own_administration(profiles, code):
    region = profiles[code].region
    assert len(region.municipalities) >= 12
    for m in region.municipalities:
        assert len(m.variants) >= 5, m.code
        admin = region.authority(m.authority)
        assert admin is not None and admin.role is AuthorityRole.municipality and admin.municipality == m.code
        assert m.kind in ("городской округ", "городской округ (ЗАТО)", "муниципальный округ", "муниципальный район")
    # Kherson's population is unknown for the city listed for completeness only
    known = [m for m in region.municipalities if m.population is not None]
    assert len(known) >= len(region.municipalities) - 1
    assert all(1_000 < m.population < 1_000_000 for m in known)


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_contacts_are_placeholders(profiles, code):
    region = profiles[code].region
    emails = [a.email for a in region.authorities]
    assert all(e and e.endswith(f"@{code}.example.invalid") for e in emails)
    assert len(set(emails)) == len(emails)
    assert all(a.telegram_chat_id is None and a.vk_accounts == [] for a in region.authorities)


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_routing_rules_name_known_authorities_and_cover_every_sector(profiles, code):
    profile = profiles[code]
    region = profile.region
    for rule in region.routing:
        assert rule.authority == "@municipality" or region.authority(rule.authority) is not None
    sector_rules = {r.sector for r in region.routing if r.category is None and r.municipality is None}
    assert {s.code for s in profile.sectors} <= sector_rules


@pytest.mark.parametrize("code", sorted(SEED_BLOCKS))
def test_time_zone(profiles, code):
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc).astimezone(profiles[code].region.tz)
    summer = datetime(2026, 7, 15, 12, 0, tzinfo=timezone.utc).astimezone(profiles[code].region.tz)
    assert winter.hour == summer.hour == 12 + OFFSETS[code]


def test_murmansk_own_block(profiles):
    profile = profiles["murmansk"]
    arctic = profile.sector("arctic")
    assert arctic is not None and arctic.name == "Арктика и северные гарантии"
    codes = [c.code for c in arctic.categories]
    assert "other" in codes and len(codes) >= 4
    assert all(any("а" <= ch <= "я" for ch in c.name.lower()) for c in arctic.categories)
    assert profile.block_for_sector("arctic").code == "arctic"


@pytest.mark.parametrize(
    "code, sector, category, municipality, expected",
    [
        ("kuzbass", "healthcare", "appointments", "novokuznetsk", "min_health"),
        ("kuzbass", "improvement", "playgrounds", "novokuznetsk", "adm_novokuznetsk"),
        ("kuzbass", "waste", "container_site", "kemerovo", "adm_kemerovo"),
        ("kuzbass", "waste", "collection", "kemerovo", "min_housing_roads"),
        ("kuzbass", "housing", "capital_repair", "kemerovo", "capital_repair_fund"),
        ("altai", "education", "kindergarten", "biysk", "adm_biysk"),
        ("altai", "education", "teaching", "biysk", "min_education"),
        ("altai", "energy", "power_outage", None, "min_industry_energy"),
        ("pskov", "labour", "unpaid_wages", "pskov", "com_labour"),
        ("pskov", "roads", "road_surface", "velikie_luki", "adm_velikie_luki"),
        ("murmansk", "arctic", "relocation", "tersky", "min_construction"),
        ("murmansk", "arctic", "northern_guarantees", None, "min_labour_social"),
        ("murmansk", "industry", "emissions", "monchegorsk", "min_nature"),
        ("kherson", "social", "benefits", "genichesky", "min_labour_social"),
        ("kherson", "roads", "road_surface", "skadovsky", "adm_skadovsky"),
    ],
)
def test_router_sends_incidents_where_the_profile_says(profiles, code, sector, category, municipality, expected):
    assert route(profiles[code], sector, category, municipality, None).authority == expected


def test_municipal_rule_without_a_municipality_falls_back_to_the_block_head(profiles):
    decision = route(profiles["kuzbass"], "improvement", "playgrounds", None, None)
    assert decision.authority == "head_housing_roads" and decision.via == "block_head"


@pytest.mark.parametrize(
    "code, text, expected",
    [
        ("kuzbass", "В Новокузнецке опять не чистят дороги", "novokuznetsk"),
        ("kuzbass", "в Новокузнецком районе третий день нет воды", "novokuznetsky_okrug"),
        ("kuzbass", "Прокоп, Тыргань, опять отключили свет", "prokopyevsk"),
        ("kuzbass", "в Прокопьевском районе размыло дорогу", "prokopyevsky_okrug"),
        ("kuzbass", "Нвкз центр пробки", "novokuznetsk"),
        ("kuzbass", "на Шерегеше не ходит автобус", "tashtagolsky"),
        ("kuzbass", "Киселевск, шахта", "kiselyovsk"),
        ("kuzbass", "Кемеровская область объявила конкурс", None),
        ("altai", "в Бийске нет отопления", "biysk"),
        ("altai", "в Бийском районе не вывозят мусор", "biysky"),
        ("altai", "на улице Первомайской яма", None),
        ("altai", "Первомайский район, село без воды", "pervomaysky"),
        ("pskov", "в Великих Луках нет автобусов", "velikie_luki"),
        ("pskov", "в Великолукском районе дорога", "velikoluksky"),
        ("pskov", "на острове нет связи", None),
        ("pskov", "Псковская область получит деньги", None),
        ("murmansk", "Кольский полуостров засыпало снегом", None),
        ("murmansk", "в Мурмашах нет горячей воды", "kolsky"),
        ("murmansk", "цены на никель упали", None),
        ("murmansk", "в посёлке Никель закрыли больницу", "pechengsky"),
        ("kherson", "в Новой Каховке нет воды", "novaya_kakhovka"),
        ("kherson", "в Каховке нет воды", "kakhovsky"),
        ("kherson", "в Алёшках", "aleshkinsky"),
        ("kherson", "Олешки", "aleshkinsky"),
    ],
)
def test_gazetteer_tells_places_apart(profiles, code, text, expected):
    gazetteer = Gazetteer([m.model_dump() for m in profiles[code].region.municipalities])
    match = gazetteer.resolve(text)
    assert (match.code if match else None) == expected, (text, match)
