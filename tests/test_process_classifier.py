"""`pipeline.process.load_classifier`: loaded once per process, again when another model is active or a file changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config import load_settings
from nlp.classifier.registry import Registry
from pipeline.context import App
from pipeline.errors import ModelUnavailable
from pipeline.process import load_classifier


def _two_versions(root: Path) -> tuple[Registry, str, str]:
    """A registry of its own holding the shipped active model twice, under two version names."""
    shipped = Registry()
    active = shipped.active_version()
    assert active, "the repository ships an active model"
    for name in ("v1", "v2"):
        shutil.copytree(shipped.path(active), root / "versions" / name)
    reg = Registry(root)
    reg.activate("v1", force=True)
    return reg, "v1", "v2"


def test_the_active_model_is_loaded_once_and_again_after_activation_rollback_or_a_changed_file(tmp_path: Path):
    reg, v1, v2 = _two_versions(tmp_path / "models")
    app = App(settings=load_settings(env={"CUR_MODELS_DIR": str(tmp_path / "models")}))

    first = load_classifier(app)
    assert load_classifier(app) is first  # the same files: not read (nor verified) again

    reg.activate(v2, force=True)
    second = load_classifier(app)
    assert second is not first  # another version is active: loaded from its folder
    assert load_classifier(app) is second

    reg.rollback()
    assert load_classifier(app) is not second  # back to v1: loaded again

    # a file of the active model changes (same size, same content length): read and verified again
    model = reg.path(v1) / "model.npz"
    blob = bytearray(model.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    model.write_bytes(bytes(blob))
    with pytest.raises(ModelUnavailable) as e:
        load_classifier(app)
    assert "контрольная сумма не совпадает" in str(e.value)
