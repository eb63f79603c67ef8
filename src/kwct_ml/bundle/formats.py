"""Model bundle formats: each ``format_version`` and how its pickled pipelines are read.

Like skops' protocol numbers, a bundle says which layout wrote it and a loader per version reads it,
so moving a class never strands the models saved before the move.

- 1 (no ``format_version`` in the manifest): saved before the package re-layout; its pickle names
  ``kwct_ml.features``, ``kwct_ml.lexicon``, ``kwct_ml.model`` and ``kwct_ml.normalize``.
- 2: the same files and manifest keys, classes at their ``kwct_ml.pipeline`` / ``kwct_ml.text`` homes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import sys
import threading
import types

import joblib

FORMAT_VERSION = 2
LEGACY_VERSION = 1
SUPPORTED = (LEGACY_VERSION, FORMAT_VERSION)

#: Format 1 module -> where its pickled names live now.
_V1_MODULES = {
    "kwct_ml.features": "kwct_ml.pipeline.char_tfidf",
    "kwct_ml.lexicon": "kwct_ml.pipeline.cues",
    "kwct_ml.model": "kwct_ml.pipeline.model",
    "kwct_ml.normalize": "kwct_ml.text.normalize",
}
_ALIAS_LOCK = threading.Lock()


def format_of(manifest: dict) -> int | None:
    """The bundle's format version (1 when the manifest predates versions); None if unknown."""
    version = manifest.get("format_version", LEGACY_VERSION)
    return version if isinstance(version, int) and not isinstance(version, bool) and version in SUPPORTED \
        else None


def _alias(old: str, new: str) -> types.ModuleType:
    """A stand-in module ``old`` whose attributes are read from the module ``new``."""
    target = importlib.import_module(new)
    module = types.ModuleType(old, f"format-1 alias of {new}")
    module.__getattr__ = functools.partial(getattr, target)  # PEP 562 module attribute hook
    return module


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
    if version == LEGACY_VERSION:
        with _v1_modules():
            return joblib.load(io.BytesIO(data))
    return joblib.load(io.BytesIO(data))
