"""Russian text pipeline of ЦУР Монитор: cleaning, tokens, lemmas, entities, places.

Plain data in, plain data out; nothing here touches storage or configuration
files. Heavy models (pymorphy3 dictionaries, natasha NER) load lazily on first
use, so importing this package is cheap.
"""

from nlp.clean import clean_text
from nlp.text import NUM, lemmas, lemmas_batch
from nlp.tokens import tokenize, words

__all__ = [
    "NUM",
    "clean_text",
    "tokenize",
    "words",
    "lemmas",
    "lemmas_batch",
    "Entity",
    "extract_entities",
    "Gazetteer",
    "PlaceMatch",
]


def __getattr__(name: str):
    # NER and places import natasha lazily; keep `import nlp` light.
    if name in ("Entity", "extract_entities"):
        from nlp import ner

        return getattr(ner, name)
    if name in ("Gazetteer", "PlaceMatch"):
        from nlp import places

        return getattr(places, name)
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")
