"""Kept for callers of the old path: file import lives in :mod:`pipeline.ingest`."""

from pipeline.ingest.importer import BATCH, ImportReport, import_file

__all__ = ["BATCH", "ImportReport", "import_file"]
