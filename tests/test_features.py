"""FastCharTfidf gives the same matrix and feature names as scikit-learn's TfidfVectorizer."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

import kwct_ml.pipeline.char_tfidf as features
from kwct_ml.pipeline.char_tfidf import FastCharTfidf
from kwct_ml.text.normalize import normalize
from kwct_ml.text.segment import segment

TRICKY = ["", "   ", "\t\n", "و", "a b c", "x", "ABC def", "Kuwait's UN mission, 2024-05-01",
          "123 4.5 ٣٤٥ ۱۲", "!!! ؟؟ ... « » — ،،", "الكويت\u00a0تدين\u2009الهجوم", "أشـــاد  بـ  ”الجهود“",
          "ﻻ ﷲ", "e\u0301 ß İ", "😀 #الكويت @kuna_ar", "a" * 40]
UNSEEN = ["كلمات جديدة تماما لم ترد: زعفرانستان", "Zyzzyva qoph ǂ", "", "ـ ـ"]


@pytest.fixture(scope="module")
def texts(repo_dir) -> list[str]:
    sentences = []
    for path in sorted((repo_dir / "data" / "raw").glob("*.txt")):
        sentences += [s.text for s in segment(path.read_text(encoding="utf-8"))]
    assert len(sentences) > 50
    return sentences + TRICKY


def assert_same(expected, actual) -> None:
    expected, actual = sp.csr_matrix(expected), sp.csr_matrix(actual)
    expected.sort_indices()
    actual.sort_indices()
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_array_equal(actual.indptr, expected.indptr)
    np.testing.assert_array_equal(actual.indices, expected.indices)
    np.testing.assert_allclose(actual.data, expected.data, rtol=1e-12, atol=1e-15)


def pair(**settings):
    return TfidfVectorizer(lowercase=False, **settings), FastCharTfidf(lowercase=False, **settings)


SETTINGS = [
    dict(analyzer="char_wb", ngram_range=(2, 4)),
    dict(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=normalize),
    dict(analyzer="char_wb", ngram_range=(2, 5), min_df=2, preprocessor=normalize),
    dict(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_df=0.5),
    dict(analyzer="char_wb", ngram_range=(4, 6)),  # one-letter words are shorter than every n
    dict(analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=500),  # ties in term counts
    dict(analyzer="char_wb", ngram_range=(3, 3), use_idf=False, norm="l1", binary=True),
    dict(analyzer="char_wb", ngram_range=(2, 3), smooth_idf=False, norm=None, dtype=np.float32),
    dict(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, preprocessor=normalize),
    dict(analyzer="char", ngram_range=(2, 5), min_df=2),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_equals_tfidfvectorizer(texts, settings):
    reference, fast = pair(**settings)
    assert_same(reference.fit_transform(texts), fast.fit_transform(texts))
    assert list(fast.get_feature_names_out()) == list(reference.get_feature_names_out())
    assert fast.vocabulary_ == reference.vocabulary_
    if settings.get("use_idf", True):
        np.testing.assert_allclose(fast.idf_, reference.idf_, rtol=1e-12)
    # transform: other order, unseen words and characters, repeated calls (cache reuse)
    new = UNSEEN + texts[::-1]
    assert_same(reference.transform(new), fast.transform(new))
    assert_same(reference.transform(UNSEEN), fast.transform(UNSEEN))


@pytest.mark.parametrize("analyzer", ["char_wb", "char"])
def test_string_fallback_equals_tfidfvectorizer(texts, analyzer, monkeypatch):
    """Too many distinct characters for integer n-gram keys: the string path gives the same."""
    monkeypatch.setattr(features, "_MAX_KEY", 10)
    reference, fast = pair(analyzer=analyzer, ngram_range=(2, 5), min_df=2, preprocessor=normalize)
    assert_same(reference.fit_transform(texts), fast.fit_transform(texts))
    assert fast._alphabet is None
    assert list(fast.get_feature_names_out()) == list(reference.get_feature_names_out())
    assert_same(reference.transform(UNSEEN + texts), fast.transform(UNSEEN + texts))


def test_fit_then_transform_equals_fit_transform(texts):
    fast = FastCharTfidf(ngram_range=(2, 5), sublinear_tf=True, preprocessor=normalize)
    assert_same(fast.fit_transform(texts), clone(fast).fit(texts).transform(texts))


def test_parallel_transform_equals_serial(texts):
    fast = FastCharTfidf(ngram_range=(2, 5), sublinear_tf=True, preprocessor=normalize).fit(texts[:80])
    serial = fast.transform(texts)
    parallel = clone(fast).set_params(n_jobs=2, chunk_size=20).fit(texts[:80])
    assert_same(serial, parallel.transform(texts))
    assert_same(serial, parallel.transform(texts))  # second call, warm cache


def test_pickle_round_trip(texts):
    fast = FastCharTfidf(ngram_range=(2, 5), min_df=2, preprocessor=normalize).fit(texts)
    expected = fast.transform(UNSEEN + texts)
    blob = pickle.dumps(fast)
    assert b"_table" not in blob  # the word cache is not saved
    loaded = pickle.loads(blob)
    assert_same(expected, loaded.transform(UNSEEN + texts))
    assert list(loaded.get_feature_names_out()) == list(fast.get_feature_names_out())


def test_vocabulary_is_pickled_packed_and_old_pickles_still_load(texts):
    """The vocabulary is saved as one joined string (fast to unpickle, issue 20); a pickle from
    before, holding the dict itself, loads to the same vectoriser."""
    import io

    fast = FastCharTfidf(ngram_range=(2, 5), preprocessor=normalize).fit(texts)
    expected = fast.transform(UNSEEN + texts)
    state = fast.__getstate__()
    assert isinstance(state["vocabulary_"], features._PackedVocabulary)
    assert isinstance(fast.vocabulary_, dict)  # pickling does not touch the estimator
    blob = pickle.dumps(fast)
    for loaded in (pickle.loads(blob), pickle._Unpickler(io.BytesIO(blob)).load()):  # C and pure Python
        assert loaded.vocabulary_ == fast.vocabulary_
        assert_same(expected, loaded.transform(UNSEEN + texts))
    old = FastCharTfidf.__new__(FastCharTfidf)
    old.__setstate__({**state, "vocabulary_": dict(fast.vocabulary_)})
    assert old.vocabulary_ == fast.vocabulary_
    assert_same(expected, old.transform(UNSEEN + texts))
    for odd in ({"ab": 0, "bc": 2}, {"ab": 0, ("b",): 1}, {"ab": "0"}):  # kept as it is
        assert features._pack_vocabulary(odd) is None


def test_cache_limit_keeps_results(texts):
    fast = FastCharTfidf(ngram_range=(2, 4), cache_size=5).fit(texts)
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(texts)
    for _ in range(2):
        assert_same(reference.transform(texts), fast.transform(texts))
    assert_same(reference.transform(UNSEEN), fast.transform(UNSEEN))
    assert set(fast._table.ids) == set(" ".join(UNSEEN).lower().split())  # emptied, then refilled


def test_generator_input_and_bytes(texts):
    fast = FastCharTfidf(ngram_range=(2, 3)).fit(t for t in texts)
    assert_same(fast.transform(texts[:3]), fast.transform([t.encode("utf-8") for t in texts[:3]]))


def test_errors():
    with pytest.raises(NotFittedError):
        FastCharTfidf().transform(["نص"])
    with pytest.raises(ValueError, match="string object received"):
        FastCharTfidf().fit("نص")
    with pytest.raises(ValueError, match="empty vocabulary"):
        FastCharTfidf().fit(["", "  "])
    with pytest.raises(ValueError, match="no terms remain"):
        FastCharTfidf(min_df=2).fit(["نص", "كلمة"])
    with pytest.raises(ValueError, match="analyzer"):
        FastCharTfidf(analyzer="word").fit(["نص"])
    with pytest.raises(ValueError, match="np.nan"):
        FastCharTfidf().fit(["نص", np.nan])


def test_is_a_plain_estimator():
    fast = FastCharTfidf(ngram_range=(1, 3), min_df=2, n_jobs=2)
    assert clone(fast).get_params() == fast.get_params()
    assert features.FastCharTfidfVectorizer is FastCharTfidf


def test_many_small_batches_equal_one_batch(texts):
    # the word cache grows in blocks (merged as they accumulate); rows must come from the right one
    half = len(texts) // 2
    fast = FastCharTfidf(ngram_range=(2, 5), sublinear_tf=True, preprocessor=normalize,
                         lowercase=False).fit(texts[:half])
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                preprocessor=normalize, lowercase=False).fit(texts[:half])
    rest = texts[half:] + UNSEEN
    pieces = [fast.transform(rest[i:i + 3]) for i in range(0, len(rest), 3)]
    assert len(fast._table._blocks) > 1
    assert_same(reference.transform(rest), sp.vstack(pieces))
    assert_same(reference.transform(texts + UNSEEN), fast.transform(texts + UNSEEN))
