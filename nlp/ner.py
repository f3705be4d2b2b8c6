"""Named entities (places, organisations, persons) with natasha.

natasha's ``NewsNERTagger`` (slovnet + navec embeddings, shipped inside the
natasha wheel, nothing is downloaded) finds LOC, ORG and PER spans; natasha's
``MorphVocab`` normalises them (``в Новокузнецке`` -> ``Новокузнецк``). The
models load once per process, lazily and under a lock (~0.8 s), and
cost a few milliseconds a post, so the pipeline calls
:func:`extract_entities` only for posts classified as relevant.

The news model often takes the name of a management company for a place
(``УК Жилсервис`` -> LOC ``Жилсервис``). A small rule fixes this: a name after
an organisation-form abbreviation (``УК``, ``ТСЖ``, ``ООО``, ``МУП``, ``ГБУЗ``
...) or after ``управляющая компания`` is an ORG; such a rule span replaces
any model span it overlaps and includes the abbreviation.

Offsets refer to the text passed in (pass the output of ``clean_text``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Literal, Sequence

__all__ = ["Entity", "EntityKind", "extract_entities", "extract_entities_batch", "load_models"]

EntityKind = Literal["LOC", "ORG", "PER"]


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity: kind, text as written, normal form, character span."""

    kind: EntityKind
    text: str
    normal: str
    start: int
    stop: int


_ORG_FORMS = (
    "УК|ТСЖ|ТСН|ЖСК|ЖЭУ|ЖЭК|РЭУ|ЖКС|ГУЖА|ООО|ОАО|ЗАО|ПАО|АО|НАО|МУП|ГУП|ФГУП|МКУ|МБУ|МАУ|ГБУ|ГКУ|ГАУ|"
    "ГБУЗ|ГАУЗ|МБОУ|МАОУ|МКОУ|МБДОУ|МАДОУ|МКДОУ|ГБОУ|ГПОУ|НКО|АНО|ФКУ"
)
_ORG_RE = re.compile(
    rf"(?P<prefix>\b(?:{_ORG_FORMS})\b|\b[Уу]правляющ[а-яё]{{1,3}}\s+компани[а-яё]{{1,3}})\s*"
    r"(?:(?P<q>[«\"„“'])(?P<qname>[^»\"“”'\n]{1,80})[»\"“”']"
    r"|(?P<name>[А-ЯЁA-Z][\w-]*(?:\s+(?:[А-ЯЁA-Z][\w-]*|№\s?\d+|\d+))?))"
)
_SPACES = re.compile(r"\s+")


class _Models:
    def __init__(self) -> None:
        from natasha import MorphVocab, NewsMorphTagger, NewsNERTagger, Segmenter
        from natasha.data import NEWS_EMBEDDING

        from .vectors import load_navec

        self.segmenter = Segmenter()
        embedding = load_navec(NEWS_EMBEDDING)  # natasha's NewsEmbedding, read once with the classifier's (nlp.vectors)
        self.ner = NewsNERTagger(embedding)
        self.morph = NewsMorphTagger(embedding)
        self.vocab = MorphVocab()


_lock = threading.Lock()
_models: _Models | None = None


def load_models() -> Any:
    """Load the natasha models now (otherwise on the first call)."""
    global _models
    if _models is None:
        with _lock:
            if _models is None:
                _models = _Models()
    return _models


def _rule_orgs(text: str) -> list[Entity]:
    found: list[Entity] = []
    for match in _ORG_RE.finditer(text):
        prefix = _SPACES.sub(" ", match.group("prefix"))
        if prefix.lower().startswith("управля"):
            prefix = "Управляющая компания"
        name = match.group("qname") or match.group("name") or ""
        name = _SPACES.sub(" ", name).strip()
        if not name:
            continue
        found.append(
            Entity("ORG", match.group(0), f"{prefix} {name}", match.start(), match.end())
        )
    return found


def extract_entities(text: str | None, *, normalize: bool = True) -> list[Entity]:
    """LOC/ORG/PER entities of ``text`` in order of appearance.

    With ``normalize=False`` the morphology tagger is skipped (about half the
    cost) and ``normal`` equals ``text``.
    """
    return extract_entities_batch([text], normalize=normalize)[0]


def extract_entities_batch(texts: Sequence[str | None], *, normalize: bool = True) -> list[list[Entity]]:
    """:func:`extract_entities` of every text, in order, with the NER model run on batches.

    slovnet pads the texts of a batch to one length and masks the padding, so
    every text gets the same spans as alone (``tests/test_nlp_ner.py``).
    """
    out: list[list[Entity]] = [[] for _ in texts]
    todo = [i for i, t in enumerate(texts) if t and t.strip()]
    if not todo:
        return out
    from natasha import Doc
    from natasha.doc import adapt_spans

    models = load_models()
    markups = models.ner.map([texts[i] for i in todo])
    for i, markup in zip(todo, markups):
        text = texts[i]
        assert text is not None
        doc = Doc(text)
        doc.segment(models.segmenter)
        doc.spans = list(adapt_spans(doc, markup.spans))
        doc.envelop_span_tokens()
        out[i] = _entities(doc, text, normalize, models)
    return out


def _entities(doc: Any, text: str, normalize: bool, models: Any) -> list[Entity]:
    if normalize and doc.spans:
        doc.tag_morph(models.morph)
        for span in doc.spans:
            span.normalize(models.vocab)

    rules = _rule_orgs(text)
    entities: list[Entity] = list(rules)
    for span in doc.spans:
        if span.type not in ("LOC", "ORG", "PER"):
            continue
        if any(span.start < r.stop and r.start < span.stop for r in rules):
            continue
        normal = (span.normal if normalize else None) or span.text
        entities.append(Entity(span.type, span.text, normal, span.start, span.stop))
    entities.sort(key=lambda e: (e.start, e.stop))
    return entities
