"""Realistic noise for the hand-written corpus: typos, lost punctuation, case.

Only used to add variants of corpus examples at training time (each variant
keeps the group of its base text). Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re

_NEIGHBOURS = {
    "а": "вп", "о": "лр", "е": "кн", "и": "мт", "т": "иь", "н": "ег", "р": "по",
    "с": "мч", "л": "од", "в": "аы", "к": "еу", "м": "си", "д": "лж", "п": "ар",
}


def typo(text: str, rng: random.Random, rate: float = 0.04) -> str:
    chars = list(text)
    out: list[str] = []
    i = 0
    while i < len(chars):
        c = chars[i]
        r = rng.random()
        if c.isalpha() and r < rate:
            op = rng.randrange(4)
            if op == 0:  # drop
                pass
            elif op == 1 and i + 1 < len(chars):  # swap
                out.extend([chars[i + 1], c])
                i += 1
            elif op == 2:  # double
                out.extend([c, c])
            else:  # neighbouring key
                out.append(rng.choice(_NEIGHBOURS.get(c.lower(), c)))
        else:
            out.append(c)
        i += 1
    return "".join(out)


def variants(text: str, n: int, seed: int) -> list[str]:
    rng = random.Random(f"{seed}:{text}")
    out: list[str] = []
    for k in range(n):
        t = typo(text, rng)
        style = (k + rng.randrange(3)) % 3
        if style == 0:
            t = re.sub(r"[.,!?;:«»\"()]", "", t).lower()
        elif style == 1:
            t = t.replace("ё", "е")
        else:
            t = t.upper() if rng.random() < 0.3 else t
        out.append(t)
    return out
