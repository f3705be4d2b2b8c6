"""Names of answer-quality readings and cues for the shells (web, CLI), from ``nlp.answers``."""

from nlp.answers import CUE_NAMES, QUALITIES, QUALITY_NAMES

__all__ = ["CUE_NAMES", "QUALITIES", "QUALITY_NAMES"]
