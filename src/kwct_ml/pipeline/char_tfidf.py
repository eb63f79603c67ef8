"""Vectorisers: a fast character n-gram TF-IDF equal to scikit-learn's ``TfidfVectorizer``.

``char_wb`` n-grams depend only on the word, so each distinct word is analysed once (and cached)
and a document's counts are the sparse product (document x word) @ (word x n-gram). New words are
analysed in bulk with numpy: each n-gram becomes an integer key whose order is the n-gram's string
order, so the vocabulary comes out sorted exactly as ``TfidfVectorizer``'s.
"""

from __future__ import annotations

from array import array
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import sklearn
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kwct_ml.pipeline import ngram_kernel as kernel
from kwct_ml.pipeline.ngram_kernel import WordTable as _WordTable
from kwct_ml.pipeline.ngram_kernel import doc_unit_matrix as _doc_unit_matrix

_ANALYZERS = ("char_wb", "char")
#: n-gram keys are base-(alphabet size + 1) numbers of ``max_n`` digits; beyond this, plain strings.
_MAX_KEY = 2**63 - 1


class FastCharTfidf(TransformerMixin, BaseEstimator):
    """Character n-gram TF-IDF, same matrix as ``TfidfVectorizer`` (analyzer ``char_wb`` or ``char``).

    Parameters mirror ``TfidfVectorizer`` (a ``preprocessor`` replaces lower-casing, as there).
    ``n_jobs``: processes for ``transform`` of large inputs (same matrix as with 1);
    ``chunk_size``: least documents per parallel task; ``cache_size``: distinct words whose n-gram
    columns are kept between calls (the cache is emptied when it outgrows this; never pickled).
    Like ``TfidfVectorizer.fit_transform``, the returned rows' column indices may be unsorted.
    """

    def __init__(self, *, analyzer="char_wb", ngram_range=(2, 5), preprocessor=None, lowercase=True,
                 min_df=1, max_df=1.0, max_features=None, binary=False, norm="l2", use_idf=True,
                 smooth_idf=True, sublinear_tf=False, dtype=np.float64, n_jobs=None, chunk_size=1000,
                 cache_size=2_000_000):
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.preprocessor = preprocessor
        self.lowercase = lowercase
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.binary = binary
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.cache_size = cache_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # a list of sentences, as for TfidfVectorizer
        tags.input_tags.two_d_array = False
        return tags

    # ------------------------------------------------------------------ text -> units

    def _check_params(self) -> None:
        if self.analyzer not in _ANALYZERS:
            raise ValueError(f"analyzer must be one of {_ANALYZERS}, got {self.analyzer!r}")
        low, high = self.ngram_range
        if not (1 <= low <= high):
            raise ValueError(f"Invalid value for ngram_range={self.ngram_range!r}: "
                             "lower boundary larger than the upper boundary or below 1.")

    def _tokenise(self, raw_documents) -> tuple[list[str], np.ndarray]:
        """Units over all documents and each document's row pointer (``ngram_kernel.tokenise``)."""
        return kernel.tokenise(raw_documents, self.analyzer, self.preprocessor, self.lowercase)

    # ------------------------------------------------------------------ units -> n-grams
    def _grams(self, unit: str) -> list[str]:
        """All n-grams of one unit, with repeats (``ngram_kernel.grams``)."""
        return kernel.grams(unit, self.analyzer, self.ngram_range)

    def _gram_keys(self, units: list[str], alphabet: np.ndarray):
        """Every n-gram of ``units`` as integer keys in string order (``ngram_kernel.gram_keys``)."""
        return kernel.gram_keys(units, alphabet, self.analyzer, self.ngram_range)

    # ------------------------------------------------------------------ fit
    def fit(self, raw_documents, y=None):
        """Learn the n-gram vocabulary and idf from the documents."""
        self._fit(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        """Fit, then return the TF-IDF matrix of the same documents (one pass over the text)."""
        return self._finish(self._fit(raw_documents))

    def _fit(self, raw_documents) -> sp.csr_matrix:
        self._check_params()
        flat, indptr = self._tokenise(raw_documents)
        uniq = list(dict.fromkeys(flat))
        position = dict(zip(uniq, range(len(uniq)), strict=True))
        n_docs = len(indptr) - 1
        doc_units = _doc_unit_matrix(np.fromiter(map(position.__getitem__, flat), np.int64, len(flat)),
                                     indptr, len(uniq))

        padding = " " if self.analyzer == "char_wb" else ""
        chars = np.unique(np.frombuffer((padding + "".join(uniq)).encode("utf-32-le", "surrogatepass"),
                                        np.uint32))
        if (len(chars) + 1) ** self.ngram_range[1] <= _MAX_KEY and len(chars):
            self._alphabet = chars
            unit_idx, keys, pos, length, text = self._gram_keys(uniq, chars)
            # np.unique sorts the keys, which is string order; ``first`` locates each n-gram's text.
            self._keys, first, cols = np.unique(keys, return_index=True, return_inverse=True)
            names = [text[p:p + n] for p, n in zip(pos[first].tolist(), length[first].tolist(),
                                                  strict=True)]
        else:  # too many distinct characters for integer keys: strings, then sort them
            self._alphabet = None
            provisional: dict[str, int] = {}
            add = provisional.setdefault
            grams = array("q")
            lengths = array("q")
            for unit in uniq:
                ids = [add(g, len(provisional)) for g in self._grams(unit)]
                grams.extend(ids)
                lengths.append(len(ids))
            names = sorted(provisional)
            rank = np.empty(len(names), dtype=np.int64)
            rank[[provisional[g] for g in names]] = np.arange(len(names))
            cols = rank[np.frombuffer(grams, dtype=np.int64)]
            unit_idx = np.repeat(np.arange(len(uniq)), np.frombuffer(lengths, dtype=np.int64))
        if not names:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")

        unit_grams = sp.csr_matrix((np.ones(len(cols)), (unit_idx, cols)), shape=(len(uniq), len(names)))
        counts = (doc_units @ unit_grams).tocsr()  # exact integer counts, no duplicates
        dfs = np.bincount(counts.indices, minlength=len(names))
        mask = self._feature_mask(dfs, counts, n_docs)
        kept = np.flatnonzero(mask)
        self.vocabulary_ = {names[k]: i for i, k in enumerate(kept.tolist())}
        if self._alphabet is not None:
            self._keys = self._keys[kept]
        self._set_idf(dfs[kept], n_docs)

        # Restrict to kept features; the training words seed the cache.
        column = np.full(len(names), -1, dtype=np.int64)
        column[kept] = np.arange(len(kept))
        table = _WordTable()
        if self.analyzer == "char_wb" and len(uniq) <= self.cache_size:
            table.ids = position
            table.add(_select_columns(unit_grams, column, len(kept)))
        self._table = table
        return _select_columns(counts, column, len(kept)).astype(self.dtype, copy=False)

    def _feature_mask(self, dfs, counts, n_docs) -> np.ndarray:
        """TfidfVectorizer's ``_limit_features`` on features in sorted order (ties broken the same)."""
        max_doc_count = self.max_df if isinstance(self.max_df, Integral) else self.max_df * n_docs
        min_doc_count = self.min_df if isinstance(self.min_df, Integral) else self.min_df * n_docs
        if max_doc_count < min_doc_count:
            raise ValueError("max_df corresponds to < documents than min_df")
        mask = (dfs <= max_doc_count) & (dfs >= min_doc_count)
        limit = self.max_features
        if limit is not None and mask.sum() > limit:
            tfs = np.bincount(counts.indices, weights=counts.data, minlength=len(dfs)).astype(np.float64)
            mask_inds = (-tfs[mask]).argsort()[:limit]
            new_mask = np.zeros(len(dfs), dtype=bool)
            new_mask[np.flatnonzero(mask)[mask_inds]] = True
            mask = new_mask
        if not mask.any():
            raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
        return mask

    def _set_idf(self, dfs: np.ndarray, n_docs: int) -> None:
        """TfidfTransformer.fit, operation for operation."""
        if not self.use_idf:
            self.idf_ = None
            return
        dtype = np.dtype(self.dtype) if np.dtype(self.dtype) in (np.float64, np.float32) else np.float64
        df = dfs.astype(dtype)
        df += float(self.smooth_idf)
        n_samples = n_docs + int(self.smooth_idf)
        idf = np.full_like(df, fill_value=n_samples, dtype=dtype)
        idf /= df
        np.log(idf, out=idf)
        idf += 1.0
        self.idf_ = idf

    # ------------------------------------------------------------------ transform
    def transform(self, raw_documents):
        """TF-IDF matrix of the documents with the fitted vocabulary (unseen n-grams are dropped)."""
        check_is_fitted(self, "vocabulary_", msg="The TF-IDF vectorizer is not fitted")
        if isinstance(raw_documents, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        docs = raw_documents if isinstance(raw_documents, list) else list(raw_documents)
        n_jobs = effective_n_jobs(self.n_jobs)
        if n_jobs > 1 and len(docs) >= 2 * self.chunk_size:
            # Workers preprocess and split (the per-character work) and send back each chunk's
            # distinct units and unit ids; n-gram counting stays here, with the word cache.
            step = max(self.chunk_size, -(-len(docs) // n_jobs))
            tokeniser = FastCharTfidf(analyzer=self.analyzer, preprocessor=self.preprocessor,
                                      lowercase=self.lowercase)
            parts = Parallel(n_jobs=n_jobs)(delayed(_tokenise_chunk)(tokeniser, docs[i:i + step])
                                            for i in range(0, len(docs), step))
        else:
            flat, indptr = self._tokenise(docs)
            parts = [(flat, None, indptr)]
        return self._finish(self._counts(parts))

    def _counts(self, parts) -> sp.csr_matrix:
        """Raw n-gram counts: (document x word) @ (word x n-gram), each word analysed once.

        ``parts``: (units, unit ids or None, row pointer) per chunk of documents; with ids, a
        chunk's tokens are ``units[ids]``, otherwise ``units`` is the token list itself."""
        table = self.__dict__.get("_table")
        if table is None or self.analyzer != "char_wb" or len(table.ids) > self.cache_size:
            table = _WordTable()
            if self.analyzer == "char_wb":
                self._table = table
        return kernel.count_rows(parts, table, self._unit_rows, len(self.vocabulary_), self.dtype)

    def _unit_rows(self, units: list[str]) -> sp.csr_matrix:
        """(unit x feature) n-gram counts of new units."""
        return kernel.unit_rows(units, len(self.vocabulary_), self.analyzer, self.ngram_range,
                                self.__dict__.get("_alphabet"), self.__dict__.get("_keys"), self.vocabulary_)

    def _finish(self, counts: sp.csr_matrix):
        """TfidfTransformer.transform on a count matrix, then the configured sparse interface."""
        counts = kernel.tfidf(counts, self.binary, self.sublinear_tf, self.idf_, self.norm)
        if sklearn.get_config().get("sparse_interface", "spmatrix") == "sparray":
            return sp.csr_array(counts)
        return counts

    def get_feature_names_out(self, input_features=None):
        """Feature names in column order (sorted, as TfidfVectorizer's)."""
        check_is_fitted(self, "vocabulary_")
        names = [None] * len(self.vocabulary_)
        for name, i in self.vocabulary_.items():
            names[i] = name
        return np.asarray(names, dtype=object)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_table", None)  # a speed-up only; rebuilt as words are seen
        packed = _pack_vocabulary(state.get("vocabulary_"))
        if packed is not None:
            state["vocabulary_"] = packed
        return state

    def __setstate__(self, state):  # a dict in pickles from before the packed vocabulary
        if isinstance(state.get("vocabulary_"), _PackedVocabulary):
            state = {**state, "vocabulary_": state["vocabulary_"].unpack()}
        super().__setstate__(state)


class _PackedVocabulary:
    """A vocabulary ``{name: i}`` with i = 0..n-1, pickled as its names joined into one string and
    their lengths: a model loads in a fraction of the time (joblib unpickles in pure Python, one
    step per dict entry and per string otherwise)."""

    def __init__(self, joined: str, lengths: np.ndarray):
        self.joined, self.lengths = joined, lengths

    def unpack(self) -> dict[str, int]:
        ends = np.cumsum(self.lengths).tolist()
        starts, joined = [0, *ends][:-1], self.joined
        return {joined[start:end]: i for i, (start, end) in enumerate(zip(starts, ends, strict=True))}


def _pack_vocabulary(vocabulary) -> _PackedVocabulary | None:
    """The packed form of ``vocabulary``, or None when it is not a plain str -> 0..n-1 mapping."""
    if not isinstance(vocabulary, dict) or not all(isinstance(i, Integral) for i in vocabulary.values()):
        return None
    try:
        index = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
    except (TypeError, ValueError, OverflowError):
        return None
    order = np.argsort(index, kind="stable")
    if not np.array_equal(index[order], np.arange(len(index))):
        return None
    keys = list(vocabulary)
    names = [keys[i] for i in order.tolist()]
    try:
        joined = "".join(names)
    except TypeError:  # a name that is not a string
        return None
    return _PackedVocabulary(joined, np.fromiter(map(len, names), dtype=np.int64, count=len(names)))


#: The name kwct_ml.pipeline.model looks up.
FastCharTfidfVectorizer = FastCharTfidf


def _select_columns(matrix: sp.csr_matrix, column: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """Keep the columns with ``column >= 0``, renumbered to ``column`` (cheaper than a product)."""
    cols = column[matrix.indices]
    keep = cols >= 0
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return sp.csr_matrix((matrix.data[keep], cols[keep], kept_before[matrix.indptr]),
                         shape=(matrix.shape[0], n_columns))


def _tokenise_chunk(tokeniser: FastCharTfidf, docs: list):
    """One parallel task: a chunk's distinct units, each token's index into them, row pointer."""
    flat, indptr = tokeniser._tokenise(docs)
    uniq = list(dict.fromkeys(flat))
    position = dict(zip(uniq, range(len(uniq)), strict=True))
    return uniq, np.fromiter(map(position.__getitem__, flat), np.int64, len(flat)), indptr
