"""The navec mean-vector block (nlp/classifier/dense.py) with the real shipped vectors."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.classifier.dense import EmbeddingError, Embeddings, shared_embeddings
from nlp.text import lemmas


def test_missing_vectors_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_navec.tar"
    with pytest.raises(EmbeddingError, match="no_navec.tar"):
        Embeddings(missing)


def test_same_complaint_in_other_words_is_closer_than_an_unrelated_post():
    emb = shared_embeddings()
    docs = [lemmas(t) for t in (
        "батареи ледяные, в квартире холодно",
        "радиаторы холодные, дома мёрзнем",
        "поздравляем с днём рождения, счастья и любви",
    )]
    v = emb.doc_vectors(docs, lambda _: 1.0)
    assert v.shape == (3, 300)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1


def test_unknown_words_give_a_zero_vector():
    v = shared_embeddings().doc_vectors([["qqqzzx"], []], lambda _: 1.0)
    assert not v.any()
