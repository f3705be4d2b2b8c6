"""The incident service (being split by job; see the modules of this package)."""

from .grouping import *  # noqa: F401,F403
from .grouping import (  # noqa: F401
    DEFAULT_GROUPING,
    GENERIC,
    OPEN_STATES,
    SYSTEM,
    AnalysisLike,
    content_lemmas,
    find_incident,
    official_account_ids,
    telegram_account_keys,
    watched_stage,
)
from .grouping import __all__  # noqa: F401
