"""The transform side of the character n-gram TF-IDF, without scikit-learn (issue 20).

``FastCharTfidf`` (pipeline/char_tfidf.py) and the compiled scorer (pipeline/compiled.py) both turn
sentences into TF-IDF rows with these functions, so a model scored without scikit-learn gives the
rows ``TfidfVectorizer`` gives. Only numpy and scipy.sparse are imported.
"""

from __future__ import annotations

import math
import re
from array import array
from itertools import repeat

import numpy as np
import scipy.sparse as sp

# TfidfVectorizer collapses runs of 2+ white-space characters before ``char`` analysis; for
# ``char_wb`` it then calls ``str.split()``, which splits on exactly the characters ``\s`` matches,
# so the collapse changes nothing there and is skipped.
WHITE_SPACES = re.compile(r"\s\s+")
NORMS = ("l1", "l2")


def prepare(doc, preprocessor, lowercase: bool) -> str:
    """Decode and preprocess one document exactly as TfidfVectorizer does."""
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8")
    if doc is np.nan or (isinstance(doc, float) and math.isnan(doc)):
        raise ValueError("np.nan is an invalid document, expected byte or unicode string.")
    if preprocessor is not None:
        return preprocessor(doc)
    return doc.lower() if lowercase else doc


def tokenise(raw_documents, analyzer: str, preprocessor, lowercase: bool) -> tuple[list[str], np.ndarray]:
    """Units over all documents (words for ``char_wb``, whole texts for ``char``) and the
    CSR row pointer of each document into that flat list."""
    if isinstance(raw_documents, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    flat: list[str] = []
    lengths = []
    words = analyzer == "char_wb"
    for doc in raw_documents:
        text = prepare(doc, preprocessor, lowercase)
        units = text.split() if words else [WHITE_SPACES.sub(" ", text)]
        flat.extend(units)
        lengths.append(len(units))
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return flat, indptr


def grams(unit: str, analyzer: str, ngram_range) -> list[str]:
    """All n-grams of one unit, with repeats (TfidfVectorizer's ``_char_wb_ngrams``/``_char_ngrams``)."""
    low, high = ngram_range
    if analyzer == "char_wb":
        w = f" {unit} "
        size = len(w)
        out = []
        for n in range(low, high + 1):
            if size <= n:  # a short word is counted once, as a whole
                out.append(w)
                break
            out.extend([w[i:i + n] for i in range(size - n + 1)])
        return out
    size = len(unit)
    return [unit[i:i + n] for n in range(low, high + 1) for i in range(size - n + 1)]


def gram_keys(units: list[str], alphabet: np.ndarray, analyzer: str, ngram_range):
    """Every n-gram of ``units`` as (unit index, integer key, start in ``text``, length), with
    ``text`` the units laid end to end. Keys count digits from 1 = ``alphabet[0]``, padded with
    0 on the right to ``max_n`` digits, so key order is string order; n-grams holding a
    character outside ``alphabet`` are dropped."""
    low, high = ngram_range
    pad = analyzer == "char_wb"
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
        parts.append(windows(counts, starts, np.full(len(units), n)))
        if short is not None and short.any():
            parts.append(windows(short.astype(np.int64), starts, sizes))
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


def unit_rows(units: list[str], n_features: int, analyzer: str, ngram_range, alphabet, keys,
              vocabulary) -> sp.csr_matrix:
    """(unit x feature) n-gram counts of new units: by integer key when ``alphabet`` is set (``keys``
    sorted, one per feature), else by looking each n-gram string up in ``vocabulary``."""
    if alphabet is not None:
        unit_idx, found_keys, *_ = gram_keys(units, alphabet, analyzer, ngram_range)
        cols = np.searchsorted(keys, found_keys)
        found = keys[np.minimum(cols, len(keys) - 1)] == found_keys
        unit_idx, cols = unit_idx[found], cols[found]
    else:
        get = vocabulary.get
        unit_idx, cols = array("q"), array("q")
        for i, unit in enumerate(units):
            ids = [c for c in map(get, grams(unit, analyzer, ngram_range)) if c is not None]
            cols.extend(ids)
            unit_idx.extend(repeat(i, len(ids)))
        unit_idx, cols = np.frombuffer(unit_idx, np.int64), np.frombuffer(cols, np.int64)
    return sp.csr_matrix((np.ones(len(cols)), (unit_idx, cols)), shape=(len(units), n_features))


def count_rows(parts, table: WordTable, new_rows, n_features: int, dtype) -> sp.csr_matrix:
    """Raw n-gram counts: (document x word) @ (word x n-gram), each word analysed once.

    ``parts``: (units, unit ids or None, row pointer) per chunk of documents; with ids, a chunk's
    tokens are ``units[ids]``, otherwise ``units`` is the token list itself. ``new_rows(units)``
    gives the (unit x feature) counts of words ``table`` has not seen; they are added to it."""
    ids = table.ids
    all_tokens, all_ptr, offset = [], [np.zeros(1, dtype=np.int64)], 0
    for units, local, indptr in parts:
        tokens = np.fromiter(map(ids.get, units, repeat(-1)), dtype=np.int64, count=len(units))
        missing = np.flatnonzero(tokens < 0)
        if len(missing):
            new = list(dict.fromkeys([units[i] for i in missing.tolist()]))
            ids.update(zip(new, range(len(ids), len(ids) + len(new)), strict=True))
            table.add(new_rows(new))
            tokens[missing] = [ids[units[i]] for i in missing.tolist()]
        all_tokens.append(tokens if local is None else tokens[local])
        all_ptr.append(indptr[1:] + offset)
        offset += int(indptr[-1])
    # only the words these documents use: their rows, and the documents over them
    used, local = np.unique(np.concatenate(all_tokens), return_inverse=True)
    doc_units = doc_unit_matrix(local.ravel(), np.concatenate(all_ptr), len(used))
    counts = (doc_units @ table.rows(used, n_features)).tocsr()
    return counts.astype(dtype, copy=False)


def tfidf(counts: sp.csr_matrix, binary: bool, sublinear_tf: bool, idf, norm) -> sp.csr_matrix:
    """TfidfTransformer.transform on a count matrix, in place: binary or sublinear tf, idf, row norm."""
    if binary:
        counts.data.fill(1)
    if sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if idf is not None:
        counts.data *= idf[counts.indices]
    if norm is not None:
        normalize_rows(counts, norm)
    return counts


def normalize_rows(matrix: sp.csr_matrix, norm: str) -> None:
    """Divide each row of a CSR matrix by its l1 or l2 norm, in place (all-zero rows stay zero), as
    ``sklearn.preprocessing.normalize`` does (equal to 1e-12, tests/test_ngram_kernel.py)."""
    if norm not in NORMS:
        raise ValueError(f"'{norm}' is not a supported norm")
    data = matrix.data
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    if norm == "l2":
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=matrix.shape[0]))
    else:
        norms = np.bincount(rows, weights=np.abs(data), minlength=matrix.shape[0])
    norms[norms == 0.0] = 1.0
    data /= norms[rows]


class WordTable:
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


def windows(counts: np.ndarray, starts: np.ndarray, lengths: np.ndarray):
    """``counts[k]`` consecutive windows of ``lengths[k]`` characters from ``starts[k]``, per unit."""
    total = int(counts.sum())
    unit_idx = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    pos = starts[unit_idx] + (np.arange(total) - first[unit_idx])
    return unit_idx, pos, lengths[unit_idx]


def doc_unit_matrix(tokens: np.ndarray, indptr: np.ndarray, n_units: int) -> sp.csr_matrix:
    """(document x unit) occurrence counts from each document's unit ids (repeats allowed)."""
    return sp.csr_matrix((np.ones(len(tokens)), tokens, indptr), shape=(len(indptr) - 1, n_units))
