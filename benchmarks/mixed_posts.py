"""A generated mixed data set of VK-like posts for the processing benchmarks.

    python benchmarks/mixed_posts.py --n 10000 --out /tmp/mixed-10k.jsonl

30 % appeal-like problem posts and 70 % ordinary community posts (news,
adverts, events, greetings, lost and found ...), over 30 days, from 50
communities of the Kuzbass profile's towns. Every text comes from the
templates below (written for this benchmark), filled with random slots; the
same seed gives the same file.

Problem posts come in *episodes*: one problem (a town, a street and house, a
kind of failure) reported by 1-25 people over hours or days, each in their own
wording, sometimes naming the town, sometimes not (a town's group seldom
names its town), some of them copies (reposts). A few chronic problems (a
pothole, a bus route) are reported all month: those make long incidents.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

END = datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc)
DAYS = 30

#: Town code -> (nominative, prepositional "в ...", genitive "из ...").
TOWNS = {
    "kemerovo": ("Кемерово", "в Кемерово", "Кемерово"),
    "novokuznetsk": ("Новокузнецк", "в Новокузнецке", "Новокузнецка"),
    "prokopyevsk": ("Прокопьевск", "в Прокопьевске", "Прокопьевска"),
    "mezhdurechensk": ("Междуреченск", "в Междуреченске", "Междуреченска"),
    "leninsk_kuznetsky": ("Ленинск-Кузнецкий", "в Ленинске-Кузнецком", "Ленинска-Кузнецкого"),
    "kiselyovsk": ("Киселёвск", "в Киселёвске", "Киселёвска"),
    "yurga": ("Юрга", "в Юрге", "Юрги"),
    "belovo": ("Белово", "в Белове", "Белово"),
    "anzhero_sudzhensk": ("Анжеро-Судженск", "в Анжеро-Судженске", "Анжеро-Судженска"),
    "beryozovsky": ("Берёзовский", "в Берёзовском", "Берёзовского"),
}
STREETS = [
    "Ленина", "Кирова", "Советская", "Мира", "Гагарина", "Пушкина", "Лермонтова", "Строителей", "Молодёжная",
    "Шахтёров", "Садовая", "Весенняя", "Тольятти", "Металлургов", "Победы", "Горького", "Чкалова", "Островского",
    "Дзержинского", "Куйбышева", "Рабочая", "Школьная", "Луговая", "Заводская", "Октябрьская", "Спортивная",
]
FIRST = ["Ирина", "Сергей", "Наталья", "Андрей", "Елена", "Дмитрий", "Ольга", "Алексей", "Татьяна", "Павел",
         "Марина", "Виктор", "Светлана", "Николай", "Юлия", "Игорь"]

#: Problem kinds: (kind, wordings). Slots: {street}, {house}, {town_in}, {n}, {route}, {school}.
PROBLEMS: list[tuple[str, list[str]]] = [
    ("heating", [
        "{town_in} на {street} {house} нет отопления уже {n} дня, батареи ледяные, дети мерзнут",
        "{street} {house}: отопления нет, в квартире +15, управляющая компания не отвечает",
        "когда дадут тепло на {street} {house}? звонили в аварийную службу, никто не приехал",
        "Батареи холодные на {street}, дом {house}, уже {n} сутки без отопления. Куда жаловаться?",
        "Помогите! {street} {house} замерзаем, отопление так и не включили, УК трубку не берет",
    ]),
    ("water", [
        "{town_in} по улице {street} {house} нет воды с утра, никто ничего не объявлял",
        "На {street} {house} опять отключили холодную воду без предупреждения, уже {n} день",
        "Из крана течет ржавая вода, {street} {house}, пить невозможно, водоканал молчит",
        "{street} {house} — прорыв трубы, вода хлещет во дворе, аварийка не едет",
        "Нет горячей воды на {street} {house} {n} дня, сколько можно терпеть",
    ]),
    ("pothole", [
        "На {street} огромная яма на дороге возле дома {house}, машины пробивают колеса",
        "{town_in} улица {street} — ямы такие, что не проехать, когда отремонтируют дорогу?",
        "Провал асфальта на {street} у дома {house}, ночью не видно, уже несколько аварий",
        "Дорогу на {street} разбили полностью, ямы по колено, администрация бездействует",
    ]),
    ("garbage", [
        "Мусор на контейнерной площадке {street} {house} не вывозят {n} дней, крысы бегают",
        "{town_in} на {street} баки переполнены, мусор лежит горами, регоператор не отвечает",
        "Когда вывезут мусор с площадки у дома {house} по {street}? Вонь на весь двор",
    ]),
    ("bus", [
        "Автобус {route} опять не вышел на маршрут, люди по часу стоят на остановке {street}",
        "{town_in} маршрут {route} отменили? ни одного автобуса с утра, как добираться на работу",
        "Интервал {route} автобуса больше часа, на остановке {street} толпа, водители хамят",
    ]),
    ("light", [
        "На {street} не горят фонари уже {n} недели, вечером темно и страшно ходить",
        "{town_in} улица {street} без освещения, дети идут из школы в темноте",
        "Отключили свет в доме {house} по {street}, света нет с ночи, холодильники текут",
    ]),
    ("clinic", [
        "В поликлинике на {street} невозможно записаться к терапевту, телефон не отвечает {n} дня",
        "{town_in} в больнице на {street} очереди по 4 часа, врачей нет, талонов нет",
        "Скорая ехала к дому {house} на {street} больше часа, бабушке было плохо",
    ]),
    ("school", [
        "В школе №{school} холодно в классах, дети сидят в куртках, директор разводит руками",
        "{town_in} школа №{school}: в столовой кормят испорченной едой, дети жалуются",
        "В школе {school} протекает крыша, в кабинетах стоят ведра, ремонт не делают",
    ]),
    ("snow", [
        "Двор на {street} {house} не чистят от снега, машины не выехать, скорая не проедет",
        "{town_in} на {street} гололед, тротуары не посыпают, люди падают и ломают руки",
        "Снег на {street} не убирают неделю, дорогу замело, автобусы не ходят",
    ]),
    ("smoke", [
        "{town_in} опять черное небо, выбросы с разреза, дышать нечем, куда смотрит экология",
        "Запах гари на {street} ночью, окна не открыть, выбросы каждую ночь",
    ]),
]
MOOD = ["", "", " Безобразие!", " Сколько можно?!", " Примите меры.", " Просим разобраться.", " #ЦУР", " Помогите пожалуйста"]

ORDINARY = [
    "{town_in} прошел фестиваль {fest}, спасибо организаторам за праздник",
    "Продам {thing} в хорошем состоянии, недорого, пишите в личку",
    "Куплю {thing}, предлагайте варианты в комментариях",
    "Поздравляем {name} с днем рождения! Счастья, здоровья и удачи",
    "Потерялась собака {dog}, район {street}, нашедшего просим позвонить, вознаграждение",
    "Найдены ключи возле дома {house} по {street}, обращаться в комментарии",
    "Сегодня {town_in} ожидается {weather}, температура {temp} градусов",
    "Команда {team} победила в турнире по {sport}, поздравляем ребят!",
    "Приглашаем на концерт {fest} в Доме культуры, вход свободный",
    "Подскажите хорошего {master} {town_in}, кто может посоветовать?",
    "Открылся новый магазин {shop} на {street}, скидки всем покупателям",
    "В библиотеке на {street} проходит выставка {fest}, приходите всей семьей",
    "Какая красота сегодня на закате, фото подписчика {name}",
    "Ищу попутчиков до {town_gen} в субботу утром, есть два места",
    "Ярмарка выходного дня на площади, мед, овощи, мясо от фермеров",
    "Кто знает, во сколько работает {shop} на {street} в воскресенье?",
    "Сдам квартиру на {street}, две комнаты, рядом школа и остановка",
    "Вакансия: требуется {master} в {shop}, зарплата достойная, график 2/2",
    "Итоги конкурса рисунков {fest}: победители получат призы в пятницу",
    "Спасибо водителю автобуса {route} за вежливость и чистый салон",
]
FILL = {
    "fest": ["«Сибирская зима»", "«Шахтерская слава»", "«Красная горка»", "«Масленица»", "«Кузбасский рок»", "«Детство»"],
    "thing": ["велосипед", "диван", "коляску", "телефон", "шкаф", "зимнюю резину", "гараж", "ноутбук"],
    "dog": ["хаски", "такса", "рыжий спаниель", "овчарка", "белый шпиц"],
    "weather": ["снег", "солнечная погода", "метель", "небольшой мороз", "ветер"],
    "team": ["«Металлург»", "«Кузбасс»", "«Шахтер»", "«Энергия»"],
    "sport": ["хоккею", "футболу", "волейболу", "шахматам", "лыжам"],
    "master": ["сантехника", "электрика", "парикмахера", "стоматолога", "репетитора", "водителя"],
    "shop": ["«Мария-Ра»", "«Быстроном»", "«Светофор»", "пекарня «Колосок»", "аптека «Здоровье»"],
}


@dataclass
class Community:
    source: str
    town: str | None  # None: a region-wide group


def communities(rng: random.Random, n: int = 50) -> list[Community]:
    towns = list(TOWNS)
    out = []
    for i in range(n):
        town = None if i % 10 == 9 else towns[i % len(towns)]
        out.append(Community(f"vk:-{300000 + i}", town))
    return out


def _fill(rng: random.Random, template: str, town: str | None, street: str, house: int, route: int, school: int,
          say_town: bool) -> str:
    town_code = town or rng.choice(list(TOWNS))
    nom, where, gen = TOWNS[town_code]
    slots = {
        "street": street, "house": house, "route": route, "school": school, "n": rng.randint(2, 5),
        "town_in": where.capitalize() if say_town else "", "town_gen": gen,
        "name": rng.choice(FIRST), "temp": rng.randint(-30, 2),
        **{k: rng.choice(v) for k, v in FILL.items()},
    }
    text = template.format(**slots).strip()
    return text[0].upper() + text[1:]


def generate(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    comms = communities(rng)
    start = END - timedelta(days=DAYS)
    seconds = DAYS * 86400
    posts: list[dict] = []
    n_problem = int(n * 0.3)
    # problem episodes, a few chronic ones reported all month
    episode = 0
    while len(posts) < n_problem:
        episode += 1
        comm = rng.choice(comms)
        kind, wordings = rng.choice(PROBLEMS)
        street, house = rng.choice(STREETS), rng.randint(1, 120)
        route, school = rng.randint(1, 60), rng.randint(1, 90)
        chronic = rng.random() < 0.03
        size = min(rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 9, 14, 25]) * (4 if chronic else 1), n_problem - len(posts))
        t0 = rng.uniform(0, seconds - 3600)
        span = seconds - t0 if chronic else rng.uniform(1800, 3 * 86400)
        for _ in range(size):
            # neighbours post in their town's group or in a region-wide one
            where = comm if rng.random() < 0.8 else rng.choice(comms)
            at = start + timedelta(seconds=min(seconds - 1, t0 + rng.uniform(0, span)))
            if posts and rng.random() < 0.05 and posts[-1]["kind"] == kind:
                text = posts[-1]["text"]  # a repost
            else:
                say_town = where.town is None or rng.random() < 0.4
                text = _fill(rng, rng.choice(wordings), comm.town, street, house, route, school, say_town)
                text += rng.choice(MOOD)
            posts.append({"kind": kind, "source": where.source, "at": at, "text": text, "episode": episode})
    while len(posts) < n:
        comm = rng.choice(comms)
        at = start + timedelta(seconds=rng.uniform(0, seconds - 1))
        text = _fill(rng, rng.choice(ORDINARY), comm.town, rng.choice(STREETS), rng.randint(1, 120),
                     rng.randint(1, 60), rng.randint(1, 90), rng.random() < 0.3)
        posts.append({"kind": "ordinary", "source": comm.source, "at": at, "text": text, "episode": 0})
    # collected in crawl order: roughly by time, communities interleaved
    posts.sort(key=lambda p: (p["at"], p["source"]))
    rows = []
    for i, p in enumerate(posts):
        rows.append({
            "id": str(1_000_000 + i), "source": p["source"], "platform": "vk",
            "author": rng.choice(FIRST), "author_id": str(rng.randint(1000, 10**8)),
            "date": p["at"].isoformat(timespec="seconds"), "text": p["text"],
            "url": f"https://vk.com/wall{p['source'][3:]}_{1_000_000 + i}",
            "episode": p["episode"],
        })
    return rows


def write(n: int, out: Path, seed: int = 7) -> Path:
    with out.open("w", encoding="utf-8") as f:
        for row in generate(n, seed):
            row.pop("episode")
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


def episodes(n: int, seed: int = 7) -> dict[str, int]:
    """External id -> the problem episode the post reports (0: an ordinary post)."""
    return {row["id"]: row["episode"] for row in generate(n, seed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    write(args.n, args.out, args.seed)


if __name__ == "__main__":
    main()
