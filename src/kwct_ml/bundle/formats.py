"""Model bundle formats: each ``format_version`` and how its pickled pipelines are read.

Like skops' protocol numbers, a bundle says which layout wrote it and a loader per version reads it,
so moving a class never strands the models saved before the move.

- 1 (no ``format_version`` in the manifest): saved before the package re-layout; its pickle names
  ``kwct_ml.features``, ``kwct_ml.lexicon``, ``kwct_ml.model`` and ``kwct_ml.normalize``.
- 2: the same files and manifest keys, classes at their ``kwct_ml.pipeline`` / ``kwct_ml.text`` homes
  (``KwctClassifier`` in ``kwct_ml.pipeline.classifiers``). Since issue 20 a format-2 folder may
  also hold ``scorer.npz`` (the compiled scorer, its sha256 under the manifest's ``scorer``): an
  added file that older kwct_ml ignores (they read model.joblib as before), so no new version.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import sys
import threading
import types

FORMAT_VERSION = 2
LEGACY_VERSION = 1
SUPPORTED = (LEGACY_VERSION, FORMAT_VERSION)

#: Format 1 module -> the modules its pickled names live in now (searched in order).
_V1_MODULES = {
    "kwct_ml.features": ("kwct_ml.pipeline.char_tfidf",),
    "kwct_ml.lexicon": ("kwct_ml.pipeline.cues",),
    "kwct_ml.model": ("kwct_ml.pipeline.model", "kwct_ml.pipeline.classifiers"),
    "kwct_ml.normalize": ("kwct_ml.text.normalize",),
}
_ALIAS_LOCK = threading.Lock()


def format_of(manifest: dict) -> int | None:
    """The bundle's format version (1 when the manifest predates versions); None if unknown."""
    version = manifest.get("format_version", LEGACY_VERSION)
    return version if isinstance(version, int) and not isinstance(version, bool) and version in SUPPORTED \
        else None


def _alias(old: str, new: tuple[str, ...]) -> types.ModuleType:
    """A stand-in module ``old`` whose attributes are read from the first of the modules ``new``."""
    targets = [importlib.import_module(name) for name in new]
    module = types.ModuleType(old, f"format-1 alias of {', '.join(new)}")
    module.__getattr__ = functools.partial(_lookup, old, targets)
    return module


def _lookup(old: str, targets: list[types.ModuleType], name: str):
    for target in targets:
        if hasattr(target, name):
            return getattr(target, name)
    raise AttributeError(f"format-1 module {old!r} has no {name!r} today")


@contextlib.contextmanager
def _v1_modules():
    """While unpickling a format-1 bundle, its old module names resolve to today's modules."""
    with _ALIAS_LOCK:
        added = [name for name in _V1_MODULES if name not in sys.modules]
        for name in added:
            sys.modules[name] = _alias(name, _V1_MODULES[name])
        try:
            yield
        finally:
            for name in added:
                sys.modules.pop(name, None)


def read_pipelines(data: bytes, version: int):
    """Unpickle verified bundle bytes written by ``version``."""
    import joblib  # here: the manifest checks and the compiled scorer's load import no joblib

    if version == LEGACY_VERSION:
        with _v1_modules():
            return _upgrade_v1(joblib.load(io.BytesIO(data)))
    return joblib.load(io.BytesIO(data))


def _upgrade_v1(pipelines):
    """Give format-1 estimators the fitted attributes later versions always have.

    Format-1 bundles from before the options lack ``KwctClassifier.prior_smoothing`` (off) and
    ``CueFeatures.starts_`` (no pre-filter: every word start is tried, the same counts).
    """
    from kwct_ml.pipeline.classifiers import KwctClassifier
    from kwct_ml.pipeline.cues import CueFeatures

    for estimator in _estimators(pipelines.values() if isinstance(pipelines, dict) else ()):
        if isinstance(estimator, KwctClassifier) and "prior_smoothing" not in vars(estimator):
            estimator.prior_smoothing = 0.0
        if isinstance(estimator, CueFeatures) and hasattr(estimator, "patterns_") \
                and not hasattr(estimator, "starts_"):
            estimator.starts_ = [None] * len(estimator.patterns_)
    return pipelines


def _estimators(roots):
    """Every estimator inside ``roots``, through Pipeline steps and FeatureUnion blocks."""
    for root in roots:
        yield root
        parts = getattr(root, "steps", None) or getattr(root, "transformer_list", None) or ()
        yield from _estimators(part for _, part in parts)
