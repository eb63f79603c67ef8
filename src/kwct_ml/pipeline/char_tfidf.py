"""Vectorisers: a fast character n-gram TF-IDF equal to scikit-learn's ``TfidfVectorizer``.

``char_wb`` n-grams depend only on the word, so each distinct word is analysed once (and cached)
and a document's counts are the sparse product (document x word) @ (word x n-gram). New words are
analysed in bulk with numpy: each n-gram becomes an integer key whose order is the n-gram's string
order, so the vocabulary comes out sorted exactly as ``TfidfVectorizer``'s.
"""

from __future__ import annotations

import math
import re
from array import array
from itertools import repeat
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import sklearn
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize as _row_normalize
from sklearn.utils.validation import check_is_fitted

# TfidfVectorizer collapses runs of 2+ white-space characters before ``char`` analysis; for
# ``char_wb`` it then calls ``str.split()``, which splits on exactly the characters ``\s`` matches,
# so the collapse changes nothing there and is skipped.
_WHITE_SPACES = re.compile(r"\s\s+")
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

    def _prepare(self, doc) -> str:
        """Decode and preprocess one document exactly as TfidfVectorizer does."""
        if isinstance(doc, bytes):
            doc = doc.decode("utf-8")
        if doc is np.nan or (isinstance(doc, float) and math.isnan(doc)):
            raise ValueError("np.nan is an invalid document, expected byte or unicode string.")
        if self.preprocessor is not None:
            return self.preprocessor(doc)
        return doc.lower() if self.lowercase else doc

    def _tokenise(self, raw_documents) -> tuple[list[str], np.ndarray]:
        """Units over all documents (words for ``char_wb``, whole texts for ``char``) and the
        CSR row pointer of each document into that flat list."""
        if isinstance(raw_documents, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        flat: list[str] = []
        lengths = []
        words = self.analyzer == "char_wb"
        for doc in raw_documents:
            text = self._prepare(doc)
            units = text.split() if words else [_WHITE_SPACES.sub(" ", text)]
            flat.extend(units)
            lengths.append(len(units))
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return flat, indptr

    # ------------------------------------------------------------------ units -> n-grams
    def _grams(self, unit: str) -> list[str]:
        """All n-grams of one unit, with repeats (TfidfVectorizer's ``_char_wb_ngrams``/``_char_ngrams``)."""
        low, high = self.ngram_range
        if self.analyzer == "char_wb":
            w = f" {unit} "
            size = len(w)
            grams = []
            for n in range(low, high + 1):
                if size <= n:  # a short word is counted once, as a whole
                    grams.append(w)
                    break
                grams.extend([w[i:i + n] for i in range(size - n + 1)])
            return grams
        size = len(unit)
        return [unit[i:i + n] for n in range(low, high + 1) for i in range(size - n + 1)]

    def _gram_keys(self, units: list[str], alphabet: np.ndarray):
        """Every n-gram of ``units`` as (unit index, integer key, start in ``text``, length), with
        ``text`` the units laid end to end. Keys count digits from 1 = ``alphabet[0]``, padded with
        0 on the right to ``max_n`` digits, so key order is string order; n-grams holding a
        character outside ``alphabet`` are dropped."""
        low, high = self.ngram_range
        pad = self.analyzer == "char_wb"
        text = (" " + "  ".join(units) + " ") if pad else "".join(units)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        sizes = np.fromiter(map(len, units), dtype=np.int64, count=len(units)) + (2 if pad else 0)
        starts = np.zeros(len(units), dtype=np.int64)
        np.cumsum(sizes[:-1], out=starts[1:])
        idx = np.searchsorted(alphabet, codes)
        digits = idx.astype(np.int64) + 1
        unknown = alphabet[np.minimum(idx, len(alphabet) - 1)] != codes if len(alphabet) else codes >= 0
        digits[unknown] = 0
        n_unknown = np.concatenate([[0], np.cumsum(unknown)])
        base = len(alphabet) + 1

        parts = []
        for n in range(low, high + 1):
            counts = np.maximum(sizes - n + 1, 0)
            if pad and n == low:  # a padded word shorter than min_n counts once, as a whole
                short = sizes < n
            else:
                short = None
            parts.append(_windows(counts, starts, np.full(len(units), n)))
            if short is not None and short.any():
                parts.append(_windows(short.astype(np.int64), starts, sizes))
        unit_idx = np.concatenate([p[0] for p in parts])
        pos = np.concatenate([p[1] for p in parts])
        length = np.concatenate([p[2] for p in parts])
        keep = n_unknown[pos + length] == n_unknown[pos]
        unit_idx, pos, length = unit_idx[keep], pos[keep], length[keep]
        keys = np.zeros(len(pos), dtype=np.int64)
        for j in range(high):
            inside = length > j
            keys *= base
            keys[inside] += digits[pos[inside] + j]
        return unit_idx, keys, pos, length, text

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
        ids = table.ids
        all_tokens, all_ptr, offset = [], [np.zeros(1, dtype=np.int64)], 0
        for units, local, indptr in parts:
            tokens = np.fromiter(map(ids.get, units, repeat(-1)), dtype=np.int64, count=len(units))
            missing = np.flatnonzero(tokens < 0)
            if len(missing):
                new = list(dict.fromkeys([units[i] for i in missing.tolist()]))
                ids.update(zip(new, range(len(ids), len(ids) + len(new)), strict=True))
                table.add(self._unit_rows(new))
                tokens[missing] = [ids[units[i]] for i in missing.tolist()]
            all_tokens.append(tokens if local is None else tokens[local])
            all_ptr.append(indptr[1:] + offset)
            offset += int(indptr[-1])
        # only the words these documents use: their rows, and the documents over them
        used, local = np.unique(np.concatenate(all_tokens), return_inverse=True)
        doc_units = _doc_unit_matrix(local.ravel(), np.concatenate(all_ptr), len(used))
        counts = (doc_units @ table.rows(used, len(self.vocabulary_))).tocsr()
        return counts.astype(self.dtype, copy=False)

    def _unit_rows(self, units: list[str]) -> sp.csr_matrix:
        """(unit x feature) n-gram counts of new units."""
        n_features = len(self.vocabulary_)
        if self.__dict__.get("_alphabet") is not None:
            unit_idx, keys, *_ = self._gram_keys(units, self._alphabet)
            cols = np.searchsorted(self._keys, keys)
            found = self._keys[np.minimum(cols, len(self._keys) - 1)] == keys
            unit_idx, cols = unit_idx[found], cols[found]
        else:
            get = self.vocabulary_.get
            unit_idx, cols = array("q"), array("q")
            for i, unit in enumerate(units):
                ids = [c for c in map(get, self._grams(unit)) if c is not None]
                cols.extend(ids)
                unit_idx.extend(repeat(i, len(ids)))
            unit_idx, cols = np.frombuffer(unit_idx, np.int64), np.frombuffer(cols, np.int64)
        return sp.csr_matrix((np.ones(len(cols)), (unit_idx, cols)), shape=(len(units), n_features))

    def _finish(self, counts: sp.csr_matrix):
        """TfidfTransformer.transform on a count matrix, then the configured sparse interface."""
        if self.binary:
            counts.data.fill(1)
        if self.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        if self.idf_ is not None:
            counts.data *= self.idf_[counts.indices]
        if self.norm is not None:
            counts = _row_normalize(counts, norm=self.norm, copy=False)
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


class _WordTable:
    """Cache: word -> row of a growing (word x feature) count matrix.

    The matrix is kept as CSR blocks of geometrically shrinking size (merged like a binary
    counter), so adding a few words never copies the whole cache."""

    def __init__(self):
        self.ids: dict[str, int] = {}
        self._blocks: list[sp.csr_matrix] = []

    def add(self, rows: sp.csr_matrix) -> None:
        blocks = self._blocks
        blocks.append(rows.tocsr())
        while len(blocks) > 1 and 2 * blocks[-1].shape[0] >= blocks[-2].shape[0]:
            last = blocks.pop()
            blocks[-1] = sp.vstack([blocks[-1], last], format="csr")

    def rows(self, unit_ids: np.ndarray, n_features: int) -> sp.csr_matrix:
        """The rows of ``unit_ids`` (sorted, distinct), in that order."""
        parts, start = [], 0
        for block in self._blocks:
            stop = start + block.shape[0]
            low, high = np.searchsorted(unit_ids, [start, stop])
            if high > low:
                parts.append(block[unit_ids[low:high] - start])
            start = stop
        if not parts:
            return sp.csr_matrix((0, n_features))
        return sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0]


def _windows(counts: np.ndarray, starts: np.ndarray, lengths: np.ndarray):
    """``counts[k]`` consecutive windows of ``lengths[k]`` characters from ``starts[k]``, per unit."""
    total = int(counts.sum())
    unit_idx = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    pos = starts[unit_idx] + (np.arange(total) - first[unit_idx])
    return unit_idx, pos, lengths[unit_idx]


def _select_columns(matrix: sp.csr_matrix, column: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """Keep the columns with ``column >= 0``, renumbered to ``column`` (cheaper than a product)."""
    cols = column[matrix.indices]
    keep = cols >= 0
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return sp.csr_matrix((matrix.data[keep], cols[keep], kept_before[matrix.indptr]),
                         shape=(matrix.shape[0], n_columns))


def _doc_unit_matrix(tokens: np.ndarray, indptr: np.ndarray, n_units: int) -> sp.csr_matrix:
    """(document x unit) occurrence counts from each document's unit ids (repeats allowed)."""
    return sp.csr_matrix((np.ones(len(tokens)), tokens, indptr), shape=(len(indptr) - 1, n_units))


def _tokenise_chunk(tokeniser: FastCharTfidf, docs: list):
    """One parallel task: a chunk's distinct units, each token's index into them, row pointer."""
    flat, indptr = tokeniser._tokenise(docs)
    uniq = list(dict.fromkeys(flat))
    position = dict(zip(uniq, range(len(uniq)), strict=True))
    return uniq, np.fromiter(map(position.__getitem__, flat), np.int64, len(flat)), indptr
