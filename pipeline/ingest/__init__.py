"""Posts coming in: the one conversion of a collected post into a stored record, and file import.

Collectors (VK, Telegram, files) give every post as :class:`collectors.base.CollectedPost`;
:func:`records.to_record` is the only way it becomes a :class:`storage.PostRecord` (cleaning what
the databases refuse: NUL characters, lone surrogates, NaN in the raw payload, over-long values).
``cur crawl`` and ``cur import`` (:mod:`pipeline.ingest.importer`) both go through it, so a post
stores the same whichever path brought it.
"""

from .records import clean, to_record

__all__ = ["clean", "to_record"]
