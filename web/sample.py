"""A small sample of posts with the model's readings, for screenshots and browser tests.

Posts and analyses are stored, then sure problems go through the real
incident service (grouping, routing, deadlines); unsure ones wait in the
review queue. The texts are the project's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from storage import PostRecord, content_hash, upsert_posts, web_repo

MODEL = "sample-1"

#: text, sector, category, urgency, municipality, confidence, relevant, unsure, platform, source, hours ago
SAMPLE_POSTS: list[tuple[str, str | None, str | None, str, str | None, float, bool, bool, str, str, float]] = [
    ("В доме на Весенней 12 третий день нет горячей воды, управляющая компания трубку не берёт", "housing", "water_supply", "normal", "kemerovo", 0.91, True, False, "vk", "vk:-100001", 30),
    ("Весенняя 12 до сих пор без горячей воды!!! дети моются из тазика", "housing", "water_supply", "normal", "kemerovo", 0.88, True, False, "telegram", "tg:kemerovo_live", 26),
    ("Огромная яма на проспекте Ленина у остановки, уже двое пробили колёса", "roads", "road_surface", "normal", "novokuznetsk", 0.84, True, False, "vk", "vk:-100002", 50),
    ("Во дворе по Кирова 5 контейнеры не вывозят неделю, мусор уже на дороге", "waste", "collection", "normal", "prokopyevsk", 0.79, True, False, "tgweb", "tg:prokop_news", 20),
    ("Срочно: на Советской оборван провод, искрит прямо над тротуаром, дети ходят в школу", "energy", "power_outage", "high", "kemerovo", 0.83, True, False, "vk", "vk:-100001", 4),
    ("В поликлинике №3 запись к терапевту только через три недели, талонов нет", "healthcare", "appointments", "normal", "belovo", 0.72, True, False, "vk", "vk:-100003", 70),
    ("Автобус 12 не ходит по расписанию, ждали сорок минут на морозе", "transport", "routes_schedule", "normal", "novokuznetsk", 0.66, True, False, "telegram", "tg:nk_transport", 12),
    ("не пойму куда писать, во дворе опять темно, фонари не горят с октября", "improvement", "street_lighting", "normal", "yurga", 0.41, True, True, "vk", "vk:-100004", 8),
    ("Говорят завод будет сбрасывать отходы в реку, кто-нибудь знает правда или нет?", "ecology", "water_pollution", "normal", "mezhdurechensk", 0.35, True, True, "telegram", "tg:mezhdu", 6),
    ("Детский сад на Строителей закрыли на ремонт а место не дают, что делать", "education", "kindergarten", "high", "kiselyovsk", 0.52, True, True, "vk", "vk:-100005", 3),
    ("Продаю гараж в хорошем состоянии, звоните", None, None, "normal", None, 0.55, False, True, "vk", "vk:-100006", 10),
    ("В больнице на Кирова второй день нет отопления в палатах, пациенты мёрзнут под двумя одеялами", "housing", "heating", "normal", "leninsk_kuznetsky", 0.45, True, True, "vk", "vk:-100008", 5),
    ("На Молодёжной опять прорвало трубу, вода хлещет на дорогу, никто не едет", "housing", "water_supply", "high", "anzhero_sudzhensk", 0.47, True, True, "vk", "vk:-100007", 2),
]


#: the sample's sources by name (invented communities and channels; stored switched off, nothing is crawled)
SAMPLE_SOURCES = {
    ("vk", "vk:-100001"): "Подслушано в Кемерово", ("vk", "vk:-100002"): "Новокузнецк онлайн", ("vk", "vk:-100003"): "Белово сегодня",
    ("vk", "vk:-100004"): "Юрга — наш город", ("vk", "vk:-100005"): "Киселёвск live", ("vk", "vk:-100006"): "Барахолка Кузбасса",
    ("vk", "vk:-100007"): "Анжеро-Судженск: новости", ("vk", "vk:-100008"): "Ленинск-Кузнецкий: жалобы и предложения",
    ("telegram", "tg:kemerovo_live"): "Кемерово живое", ("tgweb", "tg:prokop_news"): "Прокопьевск: новости",
    ("telegram", "tg:nk_transport"): "Транспорт Новокузнецка", ("telegram", "tg:mezhdu"): "Междуреченск",
}


def seed_sample(app_ctx: Any, now: datetime) -> dict[str, int]:
    """Store the sample; return counts of posts, incidents and posts waiting for review."""
    from pipeline.incidents import ingest_analysis, sync_authorities
    from storage.sources import get_or_create_source

    profile = app_ctx.region
    counts = {"posts": 0, "incidents": 0, "review": 0}
    with app_ctx.db.session() as s:
        sync_authorities(s, profile)
        for (platform, key), title in SAMPLE_SOURCES.items():
            src, created = get_or_create_source(s, platform, "wall" if platform == "vk" else "channel", key, title=title)
            if created:
                src.enabled = False
        records = []
        for i, (text, *_rest, platform, source, hours) in enumerate(SAMPLE_POSTS):
            ext = f"sample-{i + 1}"
            url = f"https://vk.com/wall{source[3:]}_{i + 1}" if platform == "vk" else f"https://t.me/{source[3:]}/{i + 1}"
            records.append(PostRecord(platform=platform, source_key=source, external_id=ext, published_at=now - timedelta(hours=hours), text=text, url=url, author="житель"))
        upsert_posts(s, records)
        incidents: set[int] = set()
        for i, (text, sector, category, urgency, muni, conf, relevant, unsure, platform, source, _h) in enumerate(SAMPLE_POSTS):
            post = web_repo.post_by_key(s, platform, source, f"sample-{i + 1}")
            if post is None or web_repo.latest_analyses(s, [post.id]):
                continue
            a = web_repo.add_analysis(
                s, post_id=post.id, model_version=MODEL, content_hash=content_hash(text), relevant=relevant,
                relevance_confidence=conf if relevant else 1 - conf, sector=sector, category=category, urgency=urgency,
                tone="negative", confidence=conf, unsure=unsure, municipality=muni, created_at=now,
            )
            post.processed_at = now
            counts["posts"] += 1
            inc = ingest_analysis(s, profile, post, a, now - timedelta(hours=_h) + timedelta(minutes=5))
            if inc is not None:
                incidents.add(inc.id)
            elif relevant or unsure:
                counts["review"] += 1
        counts["incidents"] = len(incidents)
    return counts
