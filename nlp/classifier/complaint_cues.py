"""Complaint cues: a small lemma lexicon for the two-stage relevance decision.

A post whose P(relevant) falls just below the decision threshold is leaned
relevant when the sector head is confident *and* one of these cues is present
(negation, "when / why / how long", "again", "nobody", durations, "+1",
"I confirm", typical failure words). The band and the sector threshold are
``Thresholds.lean_relevant`` / ``Thresholds.lean_sector``; the cue list and the
thresholds were chosen on the grouped validation split of the training data
(see docs/classification.md, "Two-stage relevance decision").
"""

from __future__ import annotations

from collections.abc import Sequence

CUE_LEMMAS = frozenset(
    "не нет когда почему сколько опять снова никто никакой невозможно жаловаться жалоба куда "
    "кто-нибудь неделя месяц день год подтверждать сломать течь холодно грязь яма".split()
)


def complaint_cue(text: str, lemmas: Sequence[str]) -> bool:
    """True when the post carries a complaint cue (lemmas of the post, and its raw text for «+1»)."""
    return "+1" in text or not CUE_LEMMAS.isdisjoint(lemmas)
