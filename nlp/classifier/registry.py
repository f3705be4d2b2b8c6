"""File-side model registry: one folder per version plus an active pointer.

    <models_dir>/
        registry.json          {"active": "<version>", "history": [...]}
        ACTIVE                 "versions/<version>" (the same pointer, plain text)
        versions/<version>/    model.npz, meta.json (+ evaluation.json/png)

``history`` lists the versions that have been active, oldest first; rollback
goes back to the previous one. A version is refused activation when it scores
worse than the active one on the same evaluation set, unless forced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .data import REPO_MODELS_DIR
from .model import META_FILE, Classifier, ModelError

REGISTRY_FILE = "registry.json"
ACTIVE_FILE = "ACTIVE"
VERSIONS_DIR = "versions"
#: A candidate may be this much worse (noise) and still replace the active model.
TOLERANCE = 0.002


class WorseModelError(ModelError):
    """The candidate is worse than the active model on the evaluation set."""

    def __init__(self, version: str, candidate: float, active_version: str, active: float):
        self.version, self.candidate, self.active_version, self.active = version, candidate, active_version, active
        super().__init__(
            f"версия {version} хуже активной {active_version} на оценочной выборке "
            f"({candidate:.4f} < {active:.4f}); активировать её можно только принудительно (--force)"
        )


class Registry:
    def __init__(self, models_dir: Path | None = None):
        self.root = Path(models_dir) if models_dir else REPO_MODELS_DIR

    # ------------------------------------------------------------------ state

    def _state(self) -> dict:
        path = self.root / REGISTRY_FILE
        if not path.exists():
            return {"active": None, "history": []}
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ModelError(f"{path}: некорректный JSON ({e.msg}, строка {e.lineno})") from None
        state.setdefault("active", None)
        state.setdefault("history", [])
        return state

    def _write(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".registry-", suffix=".json")
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f, ensure_ascii=False, indent=2)
            f.write("\n")
        os.replace(tmp, self.root / REGISTRY_FILE)
        # plain-text pointer for tools that only need the active bundle's folder
        marker = self.root / ACTIVE_FILE
        if state.get("active"):
            marker.write_text(f"{VERSIONS_DIR}/{state['active']}\n", encoding="utf-8")
        elif marker.exists():
            marker.unlink()

    def path(self, version: str) -> Path:
        return self.root / VERSIONS_DIR / version

    # ------------------------------------------------------------------ queries

    def versions(self) -> list[dict]:
        """Metadata of every stored version, oldest first, with ``active`` marked."""
        active = self.active_version()
        out = []
        base = self.root / VERSIONS_DIR
        for meta_path in sorted(base.glob(f"*/{META_FILE}")) if base.exists() else []:
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                continue
            meta["active"] = meta.get("version") == active
            meta["path"] = str(meta_path.parent)
            out.append(meta)
        out.sort(key=lambda m: (m.get("created_at", ""), m.get("version", "")))
        return out

    def meta(self, version: str) -> dict:
        p = self.path(version) / META_FILE
        if not p.exists():
            raise ModelError(f"версии модели {version!r} нет в {self.root / VERSIONS_DIR}")
        return json.loads(p.read_text(encoding="utf-8"))

    def active_version(self) -> str | None:
        return self._state().get("active")

    def load(self, version: str | None = None, **kwargs) -> Classifier:
        version = version or self.active_version()
        if not version:
            raise ModelError(f"{self.root}: нет активной модели; обучите её командой «cur train»")
        if not self.path(version).exists():
            raise ModelError(f"версии модели {version!r} нет в {self.root / VERSIONS_DIR}")
        return Classifier.load(self.path(version), **kwargs)

    # ------------------------------------------------------------------ changes

    def add(self, classifier: Classifier) -> Path:
        target = self.path(classifier.version)
        if target.exists():
            shutil.rmtree(target)
        return classifier.save(target)

    def activate(
        self,
        version: str,
        *,
        force: bool = False,
        evaluator: Callable[[Classifier], float] | None = None,
    ) -> dict:
        """Make ``version`` active. Unless ``force``, it must not score worse than
        the active one: ``evaluator`` scores both on the same evaluation set; without
        it the stored scores are compared when they come from the same set."""
        self.meta(version)  # exists?
        state = self._state()
        current = state.get("active")
        result = {"version": version, "previous": current, "candidate_score": None, "active_score": None}
        if current and current != version and not force:
            if evaluator is not None:
                cand = evaluator(self.load(version))
                act = evaluator(self.load(current))
            else:
                cm, am = self.meta(version).get("evaluation", {}), self.meta(current).get("evaluation", {})
                if not cm.get("fingerprint") or cm.get("fingerprint") != am.get("fingerprint"):
                    raise ModelError(
                        f"версии {version} и {current} оценены на разных выборках; "
                        "оцените обе на одной выборке или активируйте принудительно (--force)"
                    )
                cand, act = float(cm["score"]), float(am["score"])
            result.update(candidate_score=cand, active_score=act)
            if cand + TOLERANCE < act:
                raise WorseModelError(version, cand, current, act)
        if current != version:
            history = [v for v in state["history"] if v != version]
            history.append(version)
            state.update(active=version, history=history)
            self._write(state)
        return result

    def rollback(self) -> str:
        """Re-activate the previously active version; return it."""
        state = self._state()
        history = [v for v in state["history"] if self.path(v).exists()]
        current = state.get("active")
        if current in history:
            history = history[: history.index(current)]
        if not history:
            raise ModelError("нет более ранней активной версии для отката")
        previous = history[-1]
        state.update(active=previous, history=history)
        self._write(state)
        return previous


def load_active(models_dir: Path | None = None, **kwargs) -> Classifier:
    """The active classifier of ``models_dir`` (default: the shipped ``classifier_models/``)."""
    return Registry(models_dir).load(**kwargs)
