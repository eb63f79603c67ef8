"""``CompiledScorer``: a fitted model as plain arrays, scored without scikit-learn (issue 20).

A fitted ``KwctModel`` whose tasks stack (``StackedScorer.build``) on one feature union of
``FastCharTfidf`` and ``CueFeatures`` blocks is, for scoring, only arrays: the n-gram keys and idf,
the cue regexes, the stacked weights, Platt parameters, priors and class
orders. ``compile_arrays`` extracts them (with scikit-learn, at save time); ``CompiledScorer``
scores from them with numpy, scipy.sparse and the project's own kernels (``ngram_kernel``,
``cue_scan``, ``cue_values``), giving ``KwctModel.predict_tasks``' labels and scores
(tests/test_compiled.py). The arrays are saved as ``scorer.npz`` beside the pickle
(bundle/store.py), which loads without running code. A new feature block type gets compiled by
adding its arrays to ``compile_arrays`` and a block class with ``transform(texts, normalised)``.
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp

from kwct_ml.errors import ModelError
from kwct_ml.pipeline import ngram_kernel as kernel
from kwct_ml.pipeline.cue_scan import CueScanner
from kwct_ml.pipeline.cue_values import cue_matrix
from kwct_ml.pipeline.scoring import TaskScorer
from kwct_ml.pipeline.stacked import StackedScorer, _Member, _Task
from kwct_ml.text import normalize as _normalize

#: Layout of the arrays; a scorer.npz of another layout is not used (the pickle is loaded instead).
LAYOUT = 1
#: The normaliser the cue block applies (``CueFeatures.transform``).
CUE_NORMALISER = "normalize"


class NotCompiled(Exception):
    """Why a model cannot be compiled (it is then scored through its pipelines)."""


# --------------------------------------------------------------------------- model -> arrays

def compile_arrays(model) -> dict[str, np.ndarray]:
    """The arrays of a fitted ``KwctModel`` (plain numbers and strings), or ``NotCompiled``."""
    try:
        return _arrays(model)
    except AttributeError as exc:  # an estimator pickled before a fitted attribute existed
        raise NotCompiled(f"an estimator lacks a fitted attribute ({exc})") from None


def _arrays(model) -> dict[str, np.ndarray]:
    from sklearn.pipeline import FeatureUnion

    from kwct_ml.pipeline.char_tfidf import FastCharTfidf
    from kwct_ml.pipeline.cues import CueFeatures

    stacked = StackedScorer.build(model.pipelines)
    if stacked is None:
        raise NotCompiled("its classifiers are not linear models inside sigmoid calibration")
    if len(stacked.features) != 1:
        raise NotCompiled("its tasks use different feature blocks")
    union = stacked.features[0]
    if not isinstance(union, FeatureUnion) or union.transformer_weights is not None:
        raise NotCompiled("its features are not an unweighted FeatureUnion")
    arrays: dict[str, np.ndarray] = {"layout": np.array(LAYOUT), "tasks": _strings(list(stacked.tasks))}
    kinds = []
    for b, (name, block) in enumerate(union.transformer_list):
        if isinstance(block, FastCharTfidf):
            kinds.append("char")
            arrays.update(_char_arrays(f"b{b}_", name, block))
        elif isinstance(block, CueFeatures):
            kinds.append("cues")
            arrays.update(_cue_arrays(f"b{b}_", block))
        else:
            raise NotCompiled(f"feature block {name!r} ({type(block).__name__}) has no compiled form")
    arrays["blocks"] = _strings(kinds)
    arrays["weights"] = stacked.weights[0]
    arrays["intercepts"] = stacked.intercepts[0]
    for t, (task, spec) in enumerate(stacked.tasks.items()):
        members = spec.members
        arrays.update({
            f"t{t}_classes": _strings([str(c) for c in model.pipelines[task][-1].classes_]),
            f"t{t}_n_classes": np.array(spec.n_classes),
            f"t{t}_prior_smoothing": np.array(spec.prior_smoothing),
            f"t{t}_prior": spec.prior,
            f"t{t}_start": np.array([m.columns.start for m in members], dtype=np.int64),
            f"t{t}_stop": np.array([m.columns.stop for m in members], dtype=np.int64),
            f"t{t}_class_index": np.concatenate([m.class_index for m in members]).astype(np.int64),
            f"t{t}_a": np.concatenate([m.a for m in members]),
            f"t{t}_b": np.concatenate([m.b for m in members]),
        })
    return arrays


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="U1")


def _char_arrays(prefix: str, name: str, block) -> dict[str, np.ndarray]:
    if block.__dict__.get("_alphabet") is None:
        raise NotCompiled(f"feature block {name!r}: its vocabulary has no integer n-gram keys")
    if np.dtype(block.dtype) != np.float64 or block.norm not in (None, *kernel.NORMS):
        raise NotCompiled(f"feature block {name!r}: dtype {block.dtype} / norm {block.norm!r}")
    preprocessor = block.preprocessor
    if preprocessor is None:
        normaliser = ""
    elif getattr(_normalize, getattr(preprocessor, "__name__", ""), None) is preprocessor:
        normaliser = preprocessor.__name__
    else:
        raise NotCompiled(f"feature block {name!r}: its preprocessor is not one of kwct_ml.text.normalize")
    values = {"analyzer": block.analyzer, "ngram_range": block.ngram_range, "normaliser": normaliser,
              "lowercase": bool(block.lowercase), "binary": bool(block.binary),
              "sublinear_tf": bool(block.sublinear_tf), "norm": block.norm or "", "alphabet": block._alphabet,
              "keys": block._keys, "n_features": len(block.vocabulary_),
              "idf": np.zeros(0) if block.idf_ is None else np.asarray(block.idf_, dtype=np.float64),
              "use_idf": block.idf_ is not None, "cache_size": int(block.cache_size)}
    return {prefix + key: np.asarray(value) for key, value in values.items()}


def _cue_arrays(prefix: str, block) -> dict[str, np.ndarray]:
    return {f"{prefix}patterns": _strings([p.pattern for p in block.patterns_]),
            f"{prefix}flags": np.array([p.flags for p in block.patterns_], dtype=np.int64),
            f"{prefix}sublinear": np.array(bool(block.sublinear)), f"{prefix}scale": np.array(block.scale)}


# --------------------------------------------------------------------------- arrays -> scorer

class _CharBlock:
    """``FastCharTfidf.transform`` from its arrays."""

    def __init__(self, arrays: dict, prefix: str):
        get = {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}.get
        self.analyzer = str(get("analyzer"))
        self.ngram_range = tuple(int(n) for n in get("ngram_range"))
        self.normaliser = str(get("normaliser")) or None
        self.lowercase = bool(get("lowercase"))
        self.binary, self.sublinear_tf = bool(get("binary")), bool(get("sublinear_tf"))
        self.norm = str(get("norm")) or None
        self.alphabet, self.keys = get("alphabet"), get("keys")
        self.n_features = int(get("n_features"))
        self.idf = get("idf") if bool(get("use_idf")) else None
        self.cache_size = int(get("cache_size"))
        self.table = kernel.WordTable()

    def _unit_rows(self, units: list[str]) -> sp.csr_matrix:
        return kernel.unit_rows(units, self.n_features, self.analyzer, self.ngram_range, self.alphabet,
                                self.keys, None)

    def transform(self, texts: list[str], normalised) -> sp.csr_matrix:
        docs = texts if self.normaliser is None else normalised(self.normaliser)
        flat, indptr = kernel.tokenise(docs, self.analyzer, None, self.lowercase and self.normaliser is None)
        if self.analyzer != "char_wb" or len(self.table.ids) > self.cache_size:
            self.table = kernel.WordTable()
        counts = kernel.count_rows([(flat, None, indptr)], self.table, self._unit_rows, self.n_features,
                                   np.float64)
        return kernel.tfidf(counts, self.binary, self.sublinear_tf, self.idf, self.norm)


class _CueBlock:
    """``CueFeatures.transform`` from its arrays (the cue regexes are compiled here, once)."""

    normaliser = CUE_NORMALISER

    def __init__(self, arrays: dict, prefix: str):
        patterns = [re.compile(str(p), int(f))
                    for p, f in zip(arrays[prefix + "patterns"], arrays[prefix + "flags"], strict=True)]
        self.scanner = CueScanner(patterns)
        self.n_columns = len(patterns)
        self.sublinear, self.scale = bool(arrays[prefix + "sublinear"]), str(arrays[prefix + "scale"])

    def transform(self, texts: list[str], normalised) -> sp.csr_matrix:
        return cue_matrix(normalised(self.normaliser), self.scanner, self.n_columns, self.sublinear,
                          self.scale)


_BLOCKS = {"char": _CharBlock, "cues": _CueBlock}


class _Features:
    """The feature union's ``transform``: its blocks side by side; each normaliser runs once per text."""

    def __init__(self, blocks: list):
        self.blocks = blocks

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        done: dict[str, list[str]] = {}

        def normalised(name: str) -> list[str]:
            if name not in done:
                function = getattr(_normalize, name)
                done[name] = [function(text) for text in texts]
            return done[name]

        return sp.hstack([block.transform(texts, normalised) for block in self.blocks]).tocsr()


class CompiledScorer(TaskScorer):
    """A model's scoring from its arrays: the ``TaskScorer`` API (``predict_tasks`` and the rest)
    without scikit-learn; ``explain`` needs the pipelines (``KwctModel``)."""

    def __init__(self, arrays: dict[str, np.ndarray], context: dict | None = None,
                 temperature: dict | None = None):
        if int(arrays["layout"]) != LAYOUT:
            raise NotCompiled(f"scorer layout {int(arrays['layout'])}, this kwct_ml reads {LAYOUT}")
        self._tasks = [str(t) for t in arrays["tasks"]]
        blocks = [_BLOCKS[str(kind)](arrays, f"b{b}_") for b, kind in enumerate(arrays["blocks"])]
        tasks, self._classes = {}, {}
        for t, task in enumerate(self._tasks):
            starts, stops = arrays[f"t{t}_start"], arrays[f"t{t}_stop"]
            members, offset = [], 0
            for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
                part = slice(offset, offset + stop - start)
                members.append(_Member(slice(start, stop), arrays[f"t{t}_class_index"][part],
                                       arrays[f"t{t}_a"][part], arrays[f"t{t}_b"][part]))
                offset = part.stop
            tasks[task] = _Task(0, members, int(arrays[f"t{t}_n_classes"]),
                                float(arrays[f"t{t}_prior_smoothing"]), arrays[f"t{t}_prior"])
            self._classes[task] = [str(c) for c in arrays[f"t{t}_classes"]]
        self._scorer = StackedScorer([_Features(blocks)], [np.ascontiguousarray(arrays["weights"])],
                                     [arrays["intercepts"]], tasks)
        self._set_context(context, temperature)

    @classmethod
    def from_model(cls, model) -> CompiledScorer:
        """The compiled form of a fitted ``KwctModel`` (``NotCompiled`` says why there is none)."""
        return cls(compile_arrays(model), model.context, model.temperature)

    @property
    def tasks(self) -> list[str]:
        return list(self._tasks)

    def _fitted_classes(self, task: str) -> list[str]:
        return self._classes[task]

    def _raw_proba(self, task: str, texts: list[str]) -> np.ndarray:
        return self._scorer.predict_proba(texts, [task])[task]

    def _stacked(self) -> StackedScorer:
        return self._scorer

    def explain(self, task: str, texts, k: int = 5, groups=None):
        """Not available: explanations name features, which only the pipelines know."""
        raise ModelError("the compiled scorer (scorer.npz) cannot explain; load the model's pipelines "
                         "(Tagger.load(path) or bundle.store.load_model)")
