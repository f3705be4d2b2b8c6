"""natasha's navec word vectors, read once per process and shared.

The classifier's dense features (``nlp.classifier.dense``) and natasha's NER and
morphology taggers (``nlp.ner``) use the same file, the news navec shipped inside
the natasha wheel; reading it costs ~0.5 s CPU and ~50 MB, so a process that
classifies and finds places (``cur process``, ``cur worker``, ``cur run``) reads
it once. The taggers and ``Embeddings`` only read the arrays, never change them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def load_navec(path: Path | str) -> Any:
    """The ``navec.Navec`` of this file, loaded on the first call for it."""
    key = str(Path(path).resolve())
    with _lock:
        nv = _loaded.get(key)
        if nv is None:
            from navec import Navec

            nv = _loaded[key] = Navec.load(key)
    return nv
