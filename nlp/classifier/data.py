"""Labelled examples and the loaders of the training sources.

Sources (plain data in, plain data out; nothing here touches the database):

* the project corpus ``classifier_models/corpus/*.jsonl`` (``holdout_*`` files
  are never trained on);
* the St Petersburg appeals (``spb_appeals.csv.gz``) mapped onto the taxonomy
  with ``classifier_models/spb_mapping.yaml``;
* RuSentiment VK posts as non-problems with a tone label.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "classifier_models"
CORPUS_DIR = REPO_MODELS_DIR / "corpus"
SPB_MAPPING = REPO_MODELS_DIR / "spb_mapping.yaml"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"

URGENCIES = ("high", "normal")
TONES = ("negative", "neutral", "positive")
RUSENTIMENT_TONE = {"negative": "negative", "neutral": "neutral", "positive": "positive", "speech": "positive"}


class DataError(ValueError):
    """A training file is malformed; the message names file, line and field."""


@dataclass(frozen=True)
class Example:
    text: str
    relevant: bool
    sector: str | None = None
    category: str | None = None
    urgency: str | None = None
    tone: str | None = None
    group: str | None = None
    source: str = "corpus"
    #: Relative weight in training (the hand-written corpus is up-weighted).
    weight: float = 1.0
    #: Whether training adds typo/case variants of it (generated lines are varied already).
    augment: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def normalise(text: str) -> str:
    """Key that makes texts equal up to case and whitespace (for grouping/dedup)."""
    return " ".join(text.lower().replace("ё", "е").split())


def fingerprint(examples: Iterable[Example]) -> str:
    """sha256 over the training examples (texts and labels, in a canonical order)."""
    lines = sorted(
        json.dumps([e.text, e.relevant, e.sector, e.category, e.urgency, e.tone], ensure_ascii=False)
        for e in examples
    )
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


# --------------------------------------------------------------------------- corpus


def load_jsonl(path: Path, *, source: str = "corpus", weight: float = 1.0) -> list[Example]:
    out: list[Example] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}, line {n}: not valid JSON ({e.msg})") from None
            out.append(_example(obj, f"{path}, line {n}", source, weight))
    return out


def _example(obj: dict, where: str, source: str, weight: float) -> Example:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: field 'text' must be a non-empty string")
    relevant = obj.get("relevant")
    if not isinstance(relevant, bool):
        raise DataError(f"{where}: field 'relevant' must be true or false")
    sector, category = obj.get("sector"), obj.get("category")
    if relevant and (not isinstance(sector, str) or not isinstance(category, str)):
        raise DataError(f"{where}: a relevant example needs string fields 'sector' and 'category'")
    if not relevant and (sector is not None or category is not None):
        raise DataError(f"{where}: a non-relevant example must have 'sector' and 'category' null")
    urgency = obj.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise DataError(f"{where}: field 'urgency' must be one of {URGENCIES} or null, got {urgency!r}")
    tone = obj.get("tone")
    if tone is not None and tone not in TONES:
        raise DataError(f"{where}: field 'tone' must be one of {TONES} or null, got {tone!r}")
    group = obj.get("group")
    w = obj.get("weight", 1.0)
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
        raise DataError(f"{where}: field 'weight' must be a positive number, got {w!r}")
    aug = obj.get("augment", True)
    if not isinstance(aug, bool):
        raise DataError(f"{where}: field 'augment' must be true or false, got {aug!r}")
    return Example(
        text=text,
        relevant=relevant,
        sector=sector,
        category=category,
        urgency=(urgency or "normal") if relevant else None,
        tone=tone,
        group=str(group) if group is not None else None,
        source=source,
        weight=weight * float(w),
        augment=aug,
    )


def corpus_files(corpus_dir: Path = CORPUS_DIR, *, holdout: bool = False) -> list[Path]:
    files = sorted(corpus_dir.glob("*.jsonl"))
    return [p for p in files if p.name.startswith("holdout_") == holdout]


def load_corpus(corpus_dir: Path = CORPUS_DIR, *, holdout: bool = False, weight: float = 1.0) -> list[Example]:
    out: list[Example] = []
    for p in corpus_files(corpus_dir, holdout=holdout):
        out.extend(load_jsonl(p, source="holdout" if holdout else "corpus", weight=weight))
    return out


# --------------------------------------------------------------------------- shared data sets


def load_spb_mapping(path: Path = SPB_MAPPING) -> dict[tuple[str, str], dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[tuple[str, str], dict] = {}
    for cat, reasons in data.items():
        for reason, target in reasons.items():
            out[(cat, reason)] = target
    return out


def read_spb_rows(data_dir: Path = DEFAULT_DATA_DIR) -> list[dict[str, str]]:
    path = Path(data_dir) / "spb_appeals.csv.gz"
    if not path.exists():
        raise DataError(f"{path}: the St Petersburg appeals file is missing")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _override(target: dict, text: str) -> dict:
    """The mapping target of one text: a reason's ``override`` applies when its
    ``pattern`` matches the text and its ``unless`` does not."""
    o = target.get("override")
    if not o:
        return target
    low = text.lower()
    if re.search(o["pattern"], low) and not (o.get("unless") and re.search(o["unless"], low)):
        return {"sector": o["sector"], "category": o["category"], **({"urgency": o["urgency"]} if "urgency" in o else {})}
    return target


def load_spb(data_dir: Path = DEFAULT_DATA_DIR, mapping_path: Path = SPB_MAPPING, *, dedup: bool = True) -> list[Example]:
    """SPb appeals as examples in the project taxonomy (one per distinct text when ``dedup``)."""
    mapping = load_spb_mapping(mapping_path)
    out: list[Example] = []
    seen: set[str] = set()
    for n, row in enumerate(read_spb_rows(data_dir), 2):
        text = row["text"]
        if not text.strip():
            continue
        key = normalise(text)
        if dedup:
            if key in seen:
                continue
            seen.add(key)
        target = mapping.get((row["category"], row["reason"]))
        if target is None:
            raise DataError(f"{mapping_path}: no mapping for SPb category {row['category']!r} / reason {row['reason']!r} (csv line {n})")
        target = _override(target, text)
        out.append(
            Example(
                text=text,
                relevant=True,
                sector=target["sector"],
                category=target["category"],
                urgency=target.get("urgency", "normal"),
                tone=None,
                group="spb:" + key,
                source="spb",
            )
        )
    return out


def load_rusentiment(data_dir: Path = DEFAULT_DATA_DIR) -> list[Example]:
    out: list[Example] = []
    seen: set[str] = set()
    for name in ("rusentiment_random_posts.csv.gz", "rusentiment_preselected_posts.csv.gz"):
        path = Path(data_dir) / name
        if not path.exists():
            raise DataError(f"{path}: the RuSentiment file is missing")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                text = row["text"] or ""
                key = normalise(text)
                if not key or key in seen:
                    continue
                seen.add(key)
                out.append(
                    Example(
                        text=text,
                        relevant=False,
                        tone=RUSENTIMENT_TONE.get(row["label"]),
                        group="rus:" + key,
                        source="rusentiment",
                    )
                )
    return out


# --------------------------------------------------------------------------- Cheboksary and Telegram news

#: The Cheboksary portal's catch-all category: its `sector` only says "some urban-upkeep sector".
CHEB_CATCH_ALL = "Благоустройство и инфраструктура"


def read_cheboksary(data_dir: Path = DEFAULT_DATA_DIR) -> list[dict]:
    """Cheboksary appeals as dicts: id, text (the citizen's title and text), category,
    executor, sector (suggested; ``other`` = none of ours) and alts (acceptable alternates)."""
    path = Path(data_dir) / "cheboksary_appeals.jsonl.gz"
    if not path.exists():
        raise DataError(f"{path}: the Cheboksary appeals file is missing")
    out: list[dict] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}, line {n}: not valid JSON ({e.msg})") from None
            title, body = (r.get("title") or "").strip(), (r.get("text") or "").strip()
            text = f"{title}. {body}" if title and body and not body.startswith(title) else (body or title)
            if not text:
                continue
            out.append({**r, "text": text, "alts": list(r.get("alts") or [])})
    return out


#: The sector boundaries of config/taxonomy.yaml as text rules, for rows of the catch-all
#: category: a row is taught as a sector when exactly one rule matches and that sector is
#: among the row's acceptable ones.
CHEB_RULES = (
    ("transport", re.compile(r"остановк|автобус|маршрут|троллейбус|маршрутк")),
    ("waste", re.compile(r"свалк|контейнер|мусоровоз|вывоз\w* мусор|мусор\w* не вывоз|тко\b")),
    ("ecology", re.compile(r"собак|вырубк|спил\w* (?:здоров|дерев)|загрязн")),
    ("roads", re.compile(r"проезж\w* част|дорог|ям[аыу]? на (?:улиц|дорог|проезж)|асфальт\w* (?:на )?(?:улиц|дорог)|светофор|пешеходн\w* переход|лежач")),
    ("improvement", re.compile(r"двор|детск\w* площадк|газон|тротуар|сквер|\bпарк|скамейк|урн|фонар|освещени")),
)


#: The portal's housing category (ЖКУ): it also holds the upkeep of apartment-block yards.
CHEB_HOUSING = "Жилищно-коммунальные услуги"
#: Upkeep of an apartment block's yard (snow, ice, cleaning, litter, lamps): improvement by the
#: boundaries of config/taxonomy.yaml; the portal files it under ЖКУ (the management company keeps
#: the yard). Both are right; the router wants improvement. A roof, an entrance or a flat named in
#: the text keeps it housing (snow on a roof is housing/roof_facade).
CHEB_YARD = re.compile(r"\bдвор|придомов|прилегающ|территори")
CHEB_YARD_UPKEEP = re.compile(r"снег|сугроб|налед|налёд|гололед|гололёд|уборк|убира|убран|мусор|фонар|освещени|не горит|не горят")
CHEB_IN_BUILDING = re.compile(r"крыш|кровл|подъезд|квартир|подвал|отоплен|батаре")


def cheboksary_yard_upkeep(row: dict) -> bool:
    """A ЖКУ row about the upkeep of a yard (see ``CHEB_YARD``): improvement is right too."""
    if row.get("category") != CHEB_HOUSING or row.get("sector") != "housing":
        return False
    low = row.get("text", "").lower()
    return bool(CHEB_YARD.search(low) and CHEB_YARD_UPKEEP.search(low) and not CHEB_IN_BUILDING.search(low))


#: Categories our taxonomy names explicitly that the portal files under its catch-all
#: (or roads): ramps and lifting platforms for the disabled are social/disability (also in
#: the SPb mapping), power lines, poles and connections to the grid are energy/grid, queues
#: and programmes for housing (young families, improving housing conditions, large families'
#: plots) are social.
CHEB_TAXONOMY_ALTS = (
    ("social", re.compile(r"пандус|подъемн\w* платформ|подъёмн\w* платформ")),
    ("energy", re.compile(r"\bпровод(?:а|ов|у|ом|е|ам|ами|ах)?\b|электрическ\w* столб|опор\w* (?:лэп|электропередач)|подстанц|электроэнерги|напряжени")),
    ("social", re.compile(r"молод\w* семь|улучшени\w* жилищн|многодетн\w* (?:семь\w* )?(?:земл|участ)")),
)


def cheboksary_router_alts(row: dict) -> list[str]:
    """The row's acceptable alternates as the router sees them (config/taxonomy.yaml): the
    portal's ``alts``, plus ``improvement`` for yard upkeep filed under ЖКУ
    (``cheboksary_yard_upkeep``), plus the sectors our taxonomy names explicitly for ramps,
    power lines and housing programmes (``CHEB_TAXONOMY_ALTS``) where the portal filed them
    under another sector."""
    alts = list(row.get("alts") or [])
    if "improvement" not in alts and cheboksary_yard_upkeep(row):
        alts.append("improvement")
    if row.get("sector") not in (None, "other"):
        low = row.get("text", "").lower()
        for sec, rx in CHEB_TAXONOMY_ALTS:
            if sec != row.get("sector") and sec not in alts and rx.search(low):
                alts.append(sec)
    return alts


def cheboksary_sector(row: dict) -> str | None:
    """The sector a Cheboksary appeal can be taught as, or None when it is ambiguous.
    Rows of the catch-all category keep the portal's default (``improvement``) only when
    the boundary rules (``CHEB_RULES``) point at exactly one acceptable sector; yard upkeep
    filed under ЖКУ is taught as improvement (``cheboksary_yard_upkeep``); an executor
    that overrode the category is trusted; rows outside our sectors (``other``) never teach
    a sector."""
    sector = row.get("sector")
    if not sector or sector == "other":
        return None
    if cheboksary_yard_upkeep(row):  # yard upkeep filed under ЖКУ: the router wants improvement
        return "improvement"
    if row.get("category") == CHEB_CATCH_ALL and sector == "improvement":
        low = row.get("text", "").lower()
        ok = {sector, *cheboksary_router_alts(row)}
        hits = {sec for sec, rx in CHEB_RULES if rx.search(low)}
        hits |= {sec for sec, rx in CHEB_TAXONOMY_ALTS if rx.search(low)}
        if len(hits) == 1 and hits <= ok:
            return hits.pop()
        return None
    return sector


def load_cheboksary(data_dir: Path = DEFAULT_DATA_DIR) -> list[Example]:
    """Cheboksary appeals as training examples: every one a problem; the sector is taught only
    where it is unambiguous (``cheboksary_sector``), otherwise only the relevance head learns
    from it. No category (the portal's categories are coarser than ours)."""
    out: list[Example] = []
    for r in read_cheboksary(data_dir):
        out.append(
            Example(
                text=r["text"],
                relevant=True,
                sector=cheboksary_sector(r),
                category=None,
                urgency=None,
                group="cheb:" + normalise(r["text"]),
                source="cheboksary",
            )
        )
    return out


def read_telegram(data_dir: Path = DEFAULT_DATA_DIR) -> list[dict]:
    path = Path(data_dir) / "telegram_news_posts.jsonl.gz"
    if not path.exists():
        raise DataError(f"{path}: the Telegram news file is missing")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [r for r in (json.loads(line) for line in f if line.strip()) if (r.get("text") or "").strip()]


def load_telegram(data_dir: Path = DEFAULT_DATA_DIR, *, exclude_channels: Iterable[str] = ()) -> list[Example]:
    """Telegram news posts as non-problems; one group per channel, so a grouped split
    never puts posts of one channel on both sides."""
    skip = set(exclude_channels)
    return [
        Example(text=r["text"], relevant=False, group="tg:" + str(r.get("channel")), source="telegram")
        for r in read_telegram(data_dir)
        if r.get("channel") not in skip
    ]


def load_shared(data_dir: Path = DEFAULT_DATA_DIR) -> tuple[list[Example], list[str]]:
    """Every real data set `cur train` learns from (those present in ``data_dir``), with notes."""
    data_dir = Path(data_dir)
    out: list[Example] = []
    notes: list[str] = []
    for name, loader, file in (
        ("обращения СПб", load_spb, "spb_appeals.csv.gz"),
        ("RuSentiment", load_rusentiment, "rusentiment_random_posts.csv.gz"),
        ("обращения Чебоксар", load_cheboksary, "cheboksary_appeals.jsonl.gz"),
        ("новости Telegram", load_telegram, "telegram_news_posts.jsonl.gz"),
    ):
        if (data_dir / file).exists():
            ex = loader(data_dir)
            out += ex
            notes.append(f"{name}: {len(ex)}")
    return out, notes
