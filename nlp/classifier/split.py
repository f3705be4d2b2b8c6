"""Grouped train/test split: duplicates never straddle the two sides.

Two examples are in one group when their texts are equal up to case and
whitespace, or when they carry the same corpus ``group`` id (variants of one
hand-written post). Groups are assigned to the test side by a seeded hash, so
the split is deterministic and independent of the order of the examples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .data import Example, normalise


def group_ids(examples: Sequence[Example]) -> list[int]:
    """A group number for each example (union of equal texts and equal group ids)."""
    parent = list(range(len(examples)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, e in enumerate(examples):
        for key in ("t:" + normalise(e.text), "g:" + e.group if e.group else None):
            if key is None:
                continue
            j = first.setdefault(key, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[a] = b
    return [find(i) for i in range(len(examples))]


def _unit(key: str, seed: int) -> float:
    h = hashlib.blake2b(f"{seed}:{key}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def grouped_split(examples: Sequence[Example], test_size: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices of the train and test sides."""
    gids = group_ids(examples)
    # name each group by its smallest normalised text so the split does not depend on order
    names: dict[int, str] = {}
    for i, g in enumerate(gids):
        key = normalise(examples[i].text)
        if g not in names or key < names[g]:
            names[g] = key
    test_groups = {g for g, name in names.items() if _unit(name, seed) < test_size}
    train = [i for i, g in enumerate(gids) if g not in test_groups]
    test = [i for i, g in enumerate(gids) if g in test_groups]
    return train, test
