"""Routing precedence on the real Kuzbass profile, fallbacks, and `cur routing explain`."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from config import load_configuration
from config.schema import RoutingRule
from pipeline.routing import route


@pytest.fixture(scope="module")
def kuzbass():
    return load_configuration().regions["kuzbass"]


def with_rules(profile, rules):
    region = profile.region.model_copy(update={"routing": rules})
    return dataclasses.replace(profile, region=region)


def test_municipal_competence_goes_to_the_municipality(kuzbass):
    d = route(kuzbass, "housing", "heating", "novokuznetsk", "normal")
    assert d.authority == "adm_novokuznetsk"
    assert d.via == "rule" and kuzbass.region.routing[d.rule_index].authority == "@municipality"
    assert f"Сработало правило №{d.rule_index + 1}" in d.explanation
    assert "Администрация города Новокузнецка" in d.explanation
    assert d.summary == "ЖКХ → Администрация города Новокузнецка: правило «ЖКХ по муниципалитету»"
    assert "housing" not in d.explanation and "@municipality" not in d.explanation and "adm_" not in d.explanation


def test_more_specific_rule_wins_over_an_earlier_general_one(kuzbass):
    d = route(kuzbass, "housing", "capital_repair", "novokuznetsk", "normal")
    assert d.authority == "capital_repair_fund"
    general = next(i for i, r in enumerate(kuzbass.region.routing) if r.sector == "housing" and r.category is None)
    assert general < d.rule_index
    assert f"№{general + 1}" in d.explanation  # the beaten rule is named


def test_later_more_specific_rule_wins(kuzbass):
    assert route(kuzbass, "industry", "emissions", "novokuznetsk", "normal").authority == "min_ecology"
    assert route(kuzbass, "industry", "closures", "novokuznetsk", "normal").authority == "min_industry"


def test_municipality_rule_without_municipality_falls_back_to_block_head(kuzbass):
    d = route(kuzbass, "housing", "heating", None, "normal")
    assert d.authority == "head_housing_roads" and d.via == "block_head" and d.rule_index is None
    assert "муниципалитет не определён" in d.explanation


def test_no_sector_goes_to_the_cur_head(kuzbass):
    d = route(kuzbass, None, None, "kemerovo", "normal")
    assert d.authority == "head" and d.via == "cur_head"


def test_ties_go_to_the_earlier_rule_and_urgency_counts(kuzbass):
    profile = with_rules(kuzbass, [
        RoutingRule(sector="roads", authority="min_transport"),
        RoutingRule(sector="roads", authority="min_housing_roads"),
        RoutingRule(sector="roads", urgency="high", authority="head_housing_roads"),
    ])
    assert route(profile, "roads", "snow_ice", "kemerovo", "normal").authority == "min_transport"
    urgent = route(profile, "roads", "snow_ice", "kemerovo", "high")
    assert urgent.authority == "head_housing_roads" and urgent.rule_index == 2
    assert "№2" in route(profile, "roads", None, None, "normal").explanation


def test_routing_explain_cli(cur, db_url):
    from storage import Database
    from storage.models import Post, PostAnalysis

    db = Database(db_url)
    with db.session() as s:
        post = Post(platform="vk", source_key="-1", external_id="7", published_at=datetime(2026, 11, 16, tzinfo=timezone.utc),
                    text="Новокузнецк, капремонт крыши сорвали", content_hash="x")
        s.add(post)
        s.flush()
        s.add(PostAnalysis(post_id=post.id, model_version="t", content_hash="x", relevant=True, relevance_confidence=0.9,
                           sector="housing", category="capital_repair", urgency="normal", confidence=0.8,
                           municipality="novokuznetsk"))
        pid = post.id
    db.dispose()
    r = cur("routing", "explain", str(pid))
    assert r.returncode == 0, r.stderr
    assert "Фонд капитального ремонта" in r.stdout and "Сработало правило" in r.stdout
    r = cur("routing", "explain", "999999")
    assert r.returncode == 1 and "не найден" in r.stderr
