"""Possible fakes: the registry (CLI, audit), marks made by the processing pass, decisions, threshold tuning, the project's set.

Runs on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from config import load_settings
from pipeline.context import App
from storage import Database, PostRecord, upsert_posts
from storage.models import AuditEntry, FakeClaim, FakeMark, Incident, IncidentEvent, IncidentPost

NOW = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)
CLAIM = "В Мурманске вода из-под крана отравлена, пить её нельзя"


@dataclass
class Pred:
    relevant: bool
    relevance_confidence: float = 0.9
    sector: str | None = "housing"
    category: str | None = "water_supply"
    urgency: str | None = "normal"
    tone: str | None = None
    confidence: float = 0.9
    unsure: bool = False
    model_version: str = "stub-1"
    confidences: dict = field(default_factory=dict)


class StubClassifier:
    """Problem posts are the ones that say «нет воды» or «отравлен»; nothing else about them matters here."""

    def predict(self, texts, sectors=None, *, assume_relevant=None):
        return [Pred(relevant=("отрав" in t.lower() or "ядовит" in t.lower())) for t in texts]


def app_of(url: str) -> App:
    return App(settings=load_settings(env={"CUR_DATABASE_URL": url}))


def audit(url: str, prefix: str) -> list[AuditEntry]:
    db = Database(url)
    with db.session() as s:
        rows = [r for r in s.scalars(select(AuditEntry).order_by(AuditEntry.id)) if r.action.startswith(prefix)]
        s.expunge_all()
    db.dispose()
    return rows


def test_registry_from_the_cli(cur, tmp_path, db_url):
    r = cur("fakes", "add", "--claim", CLAIM, "--refutation", "Водоканал: вода в норме.", "--link", "https://example.org/r/1")
    assert r.returncode == 0 and "Утверждение №1 в реестре" in r.stdout, r.stderr
    r = cur("fakes", "add", "--claim", "в мурманске  ВОДА из-под крана отравлена, пить её нельзя", "--refutation", "x")
    assert r.returncode == 1 and "такое утверждение уже есть в реестре: №1" in r.stderr
    r = cur("fakes", "add", "--claim", "Вода отравлена", "--refutation", "Нет")
    assert r.returncode == 1 and "не меньше трёх слов" in r.stderr
    r = cur("fakes", "add", "--claim", "Мост через Томь закроют на полгода", "--refutation", "Нет", "--link", "javascript:alert(1)")
    assert r.returncode == 1 and "ссылка должна начинаться с http" in r.stderr

    f = tmp_path / "claims.csv"
    f.write_text("утверждение;опровержение;ссылка\n"
                 "Мост через Томь закроют на полгода для ремонта;Мост не закрывают;https://example.org/r/2\n"
                 ";Пусто;\n"
                 "Пенсии в декабре выплатят с задержкой на месяц;Соцфонд: в срок;ftp://x\n"
                 f"{CLAIM};Повтор;\n"
                 "Автобусы перестанут ходить после восьми вечера;Расписание не меняется\n", encoding="utf-8")
    r = cur("fakes", "import", str(f))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "добавлено утверждений 1, уже были в реестре 1, строк с ошибками 3" in r.stdout
    assert "строка 3: не указано утверждение" in r.stderr and "строка 4: ссылка должна начинаться" in r.stderr
    assert "строка 6: ожидалось 3 столбцов, найдено 2" in r.stderr
    j = tmp_path / "claims.jsonl"
    j.write_text(json.dumps({"claim": "Пенсии в декабре выплатят с задержкой на месяц", "refutation": "Соцфонд: в срок"}, ensure_ascii=False)
                 + "\nне json\n" + json.dumps(["список"]) + "\n", encoding="utf-8")
    r = cur("fakes", "import", str(j))
    assert "добавлено утверждений 1" in r.stdout and "строка 2: не JSON" in r.stderr and "строка 3: ожидается объект" in r.stderr
    assert cur("fakes", "import", str(j)).stdout.count("уже были в реестре 1") == 1  # rerunnable

    r = cur("fakes", "remove", "2")
    assert r.returncode == 0 and "снято с учёта" in r.stdout
    r = cur("fakes", "list")
    assert "№1: " + CLAIM in r.stdout and "№2" not in r.stdout and "№3: Пенсии" in r.stdout and "Порог сходства: 0.450" in r.stdout
    assert "№2 [снято с учёта]" in cur("fakes", "list", "--all").stdout
    assert cur("fakes", "remove", "99").stderr.strip() == "Ошибка: утверждения №99 нет в реестре"

    rows = audit(db_url, "fake_claim.")
    assert [r.action for r in rows] == ["fake_claim.add", "fake_claim.add", "fake_claim.add", "fake_claim.remove"]
    assert all(r.actor.startswith("cli") for r in rows)
    assert rows[0].data["after"]["claim"] == CLAIM and rows[0].data["via"] == "cli"
    assert rows[1].data["via"] == "import:claims.csv" and rows[3].data["before"]["active"] is True


def test_processing_marks_posts_and_decisions_tune_the_threshold(db_url, tmp_path):
    from pipeline import fakes
    from pipeline.errors import Refused
    from pipeline.process import process_pending

    app = app_of(db_url)
    db = app.ready_db()
    with db.session() as s:
        c1 = fakes.add_claim(s, CLAIM, "Водоканал: вода в норме.", "https://example.org/r/1", "operator", NOW)
        fakes.add_claim(s, "Мост через реку Томь закроют на полгода для ремонта", "Не закроют.", None, "operator", NOW)
        texts = [
            "Говорят, водопроводная вода в Мурманске ядовитая, не пейте её ни в коем случае!",  # repeats claim 1
            "На улице Ленина с утра нет холодной воды, когда дадут?",  # same topic, not the claim
            "Это фейк: Водоканал проверил воду, она в норме, пить можно",  # refutes
            "Слышали? Коммунальный мост через Томь на полгода закрывают на ремонт, объезда нет",  # repeats claim 2
        ]
        upsert_posts(s, [PostRecord("vk", "vk:-1", f"p{i}", NOW - timedelta(hours=1), t) for i, t in enumerate(texts)])
        claim1 = c1.id
    report = process_pending(app, NOW, classifier=StubClassifier())
    assert report.fakes == 2 and "возможные фейки: 2" in str(report)
    with db.session() as s:
        marks = {m.post_id: m for m in s.scalars(select(FakeMark))}
        assert len(marks) == 2
        water = next(m for m in marks.values() if m.claim_id == claim1)
        assert water.decision is None and water.origin == "auto" and water.threshold == pytest.approx(0.45)
        assert water.score >= 0.45 and 0 < water.lemma_score < 1 and 0 < water.vector_score <= 1
        inc_id = s.scalar(select(IncidentPost.incident_id).where(IncidentPost.post_id == water.post_id))
        assert inc_id is not None and not s.get(Incident, inc_id).is_possible_fake  # only the operator's confirmation flags it
        other = next(m for m in marks.values() if m.claim_id != claim1)
        fakes.decide_mark(s, water.id, "confirm", "operator", NOW)
        fakes.decide_mark(s, other.id, "dismiss", "operator", NOW)
        with pytest.raises(Refused, match="уже принято решение: подтверждено"):
            fakes.decide_mark(s, water.id, "confirm", "operator", NOW)
        assert s.get(Incident, inc_id).is_possible_fake
        ev = s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc_id, IncidentEvent.kind == "marked_fake")).one()
        assert ev.actor == "operator" and f"№{claim1}" in ev.data["comment"] and ev.data["mark_id"] == water.id
        # changed mind: dismissing clears the flag (an event), confirming again sets it again
        fakes.decide_mark(s, water.id, "dismiss", "head", NOW + timedelta(minutes=1))
        assert not s.get(Incident, inc_id).is_possible_fake
        cleared = s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc_id, IncidentEvent.kind == "unmarked_fake")).one()
        assert cleared.actor == "head" and cleared.data["mark_id"] == water.id and "отклонена" in cleared.data["comment"]
        fakes.decide_mark(s, water.id, "confirm", "operator", NOW + timedelta(minutes=2))
        assert s.get(Incident, inc_id).is_possible_fake
        with pytest.raises(Refused, match="решений по меткам пока 2: для подбора порога нужно не меньше 10"):
            fakes.tune_threshold(s, "operator", NOW)
    assert [r.action for r in audit(db_url, "fake_mark.")] == ["fake_mark.confirm", "fake_mark.dismiss", "fake_mark.dismiss", "fake_mark.confirm"]

    from pipeline.reports import build_report, render_html

    with db.session() as s:  # the monthly report: «выявление, маркировка недостоверной информации»
        rep = build_report(s, app.region, "2026-11", NOW + timedelta(days=1))
        assert rep.fakes is not None and (rep.fakes.claims_added, rep.fakes.marks, rep.fakes.confirmed, rep.fakes.dismissed) == (2, 2, 1, 1)
        assert rep.fakes.claims[0][0] == CLAIM and rep.fakes.claims[0][3:] == (1, 1, 0)
        html = render_html(rep)
        assert "Недостоверная информация" in html and "подтверждено операторами 1, отклонено 1, ждут решения 0" in html
        assert build_report(s, app.region, "2026-11", NOW, authority_id=1).fakes is None  # an authority's part: not theirs
        assert build_report(s, app.region, "2026-10", NOW).fakes.marks == 0
        part = build_report(s, app.region, "2026-11", NOW, authority_id=1)
    # the XLSX carries the same section as the HTML
    from openpyxl import load_workbook

    from pipeline.reports import write_xlsx

    write_xlsx(rep, tmp_path / "r.xlsx")
    rows = list(load_workbook(tmp_path / "r.xlsx")["Возможные фейки"].iter_rows(values_only=True))
    assert rows[:5] == [("Добавлено опровергнутых утверждений в реестр", 2, None, None, None, None),
                        ("Постов, похожих на них («возможный фейк»)", 2, None, None, None, None),
                        ("Подтверждено операторами", 1, None, None, None, None), ("Отклонено", 1, None, None, None, None),
                        ("Ждут решения", 0, None, None, None, None)]
    assert rows[6] == ("Утверждение", "Опровержение", "Ссылка", "Постов", "Подтверждено", "Отклонено")
    assert rows[7] == (CLAIM, "Водоканал: вода в норме.", "https://example.org/r/1", 1, 1, 0) and len(rows) == 9
    write_xlsx(part, tmp_path / "part.xlsx")
    assert "Возможные фейки" not in load_workbook(tmp_path / "part.xlsx").sheetnames
    db.dispose()


def test_tuning_picks_the_f1_best_threshold(db_url):
    from pipeline import fakes

    db = Database(db_url)
    with db.session() as s:
        c = fakes.add_claim(s, CLAIM, "Нет.", None, "operator", NOW)
        scores = [(0.46, False), (0.48, False), (0.50, True), (0.52, False), (0.55, True), (0.60, True), (0.62, True),
                  (0.47, False), (0.70, True), (0.49, False), (0.58, True)]
        upsert_posts(s, [PostRecord("vk", "vk:-1", f"t{i}", NOW, f"текст {i}") for i in range(len(scores))])
        from storage.models import Post

        ids = [p.id for p in s.scalars(select(Post).order_by(Post.id))]
        for pid, (score, fake) in zip(ids, scores):
            s.add(FakeMark(post_id=pid, claim_id=c.id, score=score, lemma_score=score, vector_score=score, threshold=0.45,
                           origin="auto", marked_at=NOW, decision="confirmed" if fake else "dismissed", decided_by="op", decided_at=NOW))
        s.flush()
        row = fakes.tune_threshold(s, "operator", NOW)
        # 0.50: 6 of 6 fakes, 1 dismissed above (F1 0.923) beats 0.55: 5 of 6, none dismissed (F1 0.909)
        assert row.threshold == pytest.approx(0.50) and row.precision == pytest.approx(6 / 7) and row.recall == 1.0 and row.decided == 11
        assert fakes.current_threshold(s) == pytest.approx(0.50)
        assert fakes.matcher_for_pass(s).threshold == pytest.approx(0.50)
        fakes.set_threshold(s, 0.6, "admin", NOW)
        assert fakes.current_threshold(s) == pytest.approx(0.6)
        assert s.scalar(select(FakeClaim.added_by)) == "operator"
    db.dispose()


def _decide(s, claim_id: int, scores: list[tuple[float, bool]], tag: str) -> None:
    from storage.models import Post

    upsert_posts(s, [PostRecord("vk", "vk:-1", f"{tag}{i}", NOW, f"текст {tag} {i}") for i in range(len(scores))])
    ids = [p.id for p in s.scalars(select(Post).where(Post.external_id.like(f"{tag}%")).order_by(Post.id))]
    for pid, (score, fake) in zip(ids, scores):
        s.add(FakeMark(post_id=pid, claim_id=claim_id, score=score, lemma_score=score, vector_score=score, threshold=0.45,
                       origin="auto", marked_at=NOW, decision="confirmed" if fake else "dismissed", decided_by="op", decided_at=NOW))
    s.flush()


def test_tuning_lowers_the_threshold_when_the_marks_above_it_are_fakes_and_raises_it_back(db_url):
    """Marks exist only above the threshold: F1 alone could never lower it (docs/fakes.md «Tuning the threshold»)."""
    from pipeline import fakes
    from pipeline.errors import Refused

    db = Database(db_url)
    with db.session() as s:
        c = fakes.add_claim(s, CLAIM, "Нет.", None, "operator", NOW)
        # the band just above 0.45 is all fakes (and one dismissed far above): one step down
        _decide(s, c.id, [(0.46, True), (0.47, True), (0.48, True), (0.485, True), (0.49, True), (0.55, True), (0.6, True),
                          (0.65, False), (0.7, True), (0.8, True)], "a")
        row = fakes.tune_threshold(s, "operator", NOW)
        assert row.threshold == pytest.approx(0.40) and fakes.current_threshold(s) == pytest.approx(0.40)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "fake_threshold.tune")).one()
        assert entry.data["rule"] == "step_down" and entry.data["before"] == pytest.approx(0.45)
        # the posts the lower threshold marked turn out not to be fakes: F1 raises it back above them
        _decide(s, c.id, [(0.41, False), (0.42, False), (0.43, False), (0.44, False), (0.445, False)], "b")
        row = fakes.tune_threshold(s, "operator", NOW)
        assert row.threshold == pytest.approx(0.46)
        # a band of mixed decisions does not lower it
        assert fakes.next_threshold([(0.47, True), (0.48, False), (0.49, True), (0.5, True), (0.52, False), (0.6, True)], 0.46)[2] == "f1"
        assert fakes.threshold_change(0.45, 0.40) == "0.450 → 0.400 (снижен)"
        s.execute(FakeMark.__table__.update().values(decision="dismissed"))
        with pytest.raises(Refused, match="пока все отклонены"):
            fakes.tune_threshold(s, "operator", NOW)
    db.dispose()


def test_matcher_on_the_project_set():
    """The figures of docs/fakes.md stay: precision and recall ≥ 0.85 at the default threshold."""
    import sys

    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_fakes

    from pipeline.fakes import DEFAULT_THRESHOLD, FakeMatcher

    claims, posts = bench_fakes.load()
    m = FakeMatcher([(c["id"], c["claim"]) for c in claims])
    r = bench_fakes.evaluate(m.best([p["text"] for p in posts]), posts, DEFAULT_THRESHOLD)
    assert r["precision"] >= 0.85 and r["recall"] >= 0.85, r
    assert r["refutes"] == 0
