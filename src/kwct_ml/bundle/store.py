"""Model folders: model.joblib + manifest.json (with its sha256) + README.md, and ``models/latest``;
plus scorer.npz, the compiled scorer (pipeline/compiled.py), when the model has a compiled form.

A folder is written as ``models/.tmp-<run>-<pid>-<random>`` and renamed into place only when
complete; the ``latest`` symlink is then replaced atomically, so it always names a complete model.
Loading a joblib file runs code, so ``load_model`` refuses a file whose checksum differs from its
manifest, checking the very bytes it then unpickles (see docs/security.md for what that protects).
``load_scorer`` loads only scorer.npz (checksum checked the same way; plain arrays, no pickle, no
scikit-learn import), which is what predict uses when no option needs the pipelines.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import secrets
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kwct_ml import __version__
from kwct_ml.bundle import manifest as manifests
from kwct_ml.bundle.formats import FORMAT_VERSION, read_pipelines
from kwct_ml.bundle.manifest import MANIFEST_FILE, MODEL_FILE, SCORER_FILE, TAMPER_HINT, TRAIN_HINT
from kwct_ml.errors import ModelError
from kwct_ml.io.atomic import atomic_write_text

if TYPE_CHECKING:  # scikit-learn and joblib are imported where a pickle is written or read
    from kwct_ml.pipeline.compiled import CompiledScorer
    from kwct_ml.pipeline.model import KwctModel

DEFAULT_MODELS_DIR = Path("models")
LATEST = "latest"
CARD_FILE = "README.md"
TMP_PREFIX = ".tmp-"


class ModelVersionWarning(UserWarning):
    """The model was saved by a different scikit-learn version; its pickles may misbehave."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def environment() -> dict[str, str]:
    """Versions recorded in every manifest (and compared on load)."""
    import joblib
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "joblib": joblib.__version__, "kwct_ml": __version__}


def _write_model_file(model: KwctModel, path: Path) -> None:
    import joblib

    with open(path, "wb") as handle:
        joblib.dump(dict(model.pipelines), handle, compress=3)
        handle.flush()
        os.fsync(handle.fileno())


def _write_scorer_file(model: KwctModel, path: Path) -> dict:
    """Write the compiled scorer's arrays (np.savez: plain arrays, loadable without pickles) and
    return the manifest's ``scorer`` entry; ``{"file": None, "why": ...}`` for a model without one."""
    from kwct_ml.pipeline.compiled import LAYOUT, NotCompiled, compile_arrays

    try:
        arrays = compile_arrays(model)
    except NotCompiled as exc:
        return {"file": None, "why": f"not compiled: {exc}"}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    return {"file": SCORER_FILE, "sha256": sha256_file(path), "layout": LAYOUT}


def save_model(model: KwctModel, run_name: str, models_dir: str | Path = DEFAULT_MODELS_DIR,
               manifest: dict | None = None, card: str | Callable[[dict], str] | None = None,
               update_latest: bool = True) -> Path:
    """Write ``models_dir/run_name/`` (model, manifest, card) atomically; point ``latest`` at it.

    ``manifest`` holds extra entries (config, data checksums, sizes, metrics); the model checksum,
    versions and label sets are added here. ``card`` is the README text or a function of the full
    manifest returning it (default ``default_card``). Returns the final folder. The folder is
    built under a unique ``.tmp-<run>-*`` name, so two saves never share a temp folder, and the
    final rename fails rather than overwrite a folder another process put there meanwhile.
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    final = models_dir / run_name
    if final.exists() or final.is_symlink():
        raise ModelError(f"{final} already exists; pass another --name or remove it")
    tmp = unique_folder(models_dir, f"{TMP_PREFIX}{run_name}")
    try:
        _write_model_file(model, tmp / MODEL_FILE)
        scorer = _write_scorer_file(model, tmp / SCORER_FILE)
        full = {
            "format_version": FORMAT_VERSION,
            "run": run_name,
            "model_file": MODEL_FILE,
            "sha256": sha256_file(tmp / MODEL_FILE),
            "versions": environment(),
            "labels": {task: model.classes(task) for task in model.tasks},
            **(manifest or {}),
            "context": dict(model.context),  # article-context weights: settings, not pickled code
            "context_temperature": dict(model.temperature),
            "scorer": scorer,
        }
        atomic_write_text(tmp / MANIFEST_FILE, json.dumps(full, ensure_ascii=False, indent=2) + "\n")
        text = card(full) if callable(card) else card if card is not None else default_card(full)
        atomic_write_text(tmp / CARD_FILE, text)
        try:
            os.rename(tmp, final)
        except OSError:  # a non-empty folder of that name appeared since the check above
            raise ModelError(f"{final} appeared while saving (another run with the same name?); "
                             "pass another --name") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if update_latest:
        point_latest(models_dir, run_name)
    return final


def unique_folder(parent: Path, prefix: str) -> Path:
    """Create and return a new folder ``parent/prefix-<pid>-<random>`` (exclusive, umask applies)."""
    while True:
        path = parent / f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue


def discard(folder: str | Path) -> None:
    """Remove a model (or run) folder so that no half-deleted copy is ever visible under its name."""
    folder = Path(folder)
    if not folder.exists():
        return
    trash = folder.with_name(f"{TMP_PREFIX}discard-{folder.name}-{os.getpid()}")
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def point_latest(models_dir: str | Path, run_name: str) -> Path:
    """Atomically make ``models_dir/latest`` a relative symlink to ``run_name``."""
    models_dir = Path(models_dir)
    link = models_dir / LATEST
    tmp = models_dir / f".{LATEST}-{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(run_name, tmp, target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise ModelError(f"cannot replace {link} (is it a real folder?); remove it and retrain") from None
    return link


def project_dir(start: str | Path | None = None) -> Path | None:
    """The project a command runs in: ``$KWCT_HOME``, else the nearest folder upward from ``start``
    (the working folder) that holds ``pyproject.toml`` or ``data/``; None outside any project."""
    home = os.environ.get("KWCT_HOME")
    if home:
        return Path(home)
    here = Path(start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() or (folder / "data").is_dir():
            return folder
    return None


def _models_listing(models_dir: Path) -> str:
    names = sorted(p.name for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and p.name != LATEST) if models_dir.is_dir() else []
    shown = ", ".join(names[-5:])
    return f" (models in {models_dir}: {shown})" if names else ""


def _model_folder(path: str | Path | None) -> Path:
    """The model folder to load: ``path`` (a folder, its model file, or a run name under the
    project's models/), or the project's ``models/latest``; a ``latest`` leaving models/ is refused."""
    project = project_dir()
    models_dir = None if project is None else (
        DEFAULT_MODELS_DIR if project == Path.cwd().absolute() else project / DEFAULT_MODELS_DIR)
    if path is None:
        if models_dir is None:
            raise ModelError(f"no model given and no project here (no pyproject.toml or data/ in "
                             f"{Path.cwd()} or above); pass --model FOLDER or set KWCT_HOME")
        path = models_dir / LATEST
    path = Path(path)
    if not path.exists() and models_dir is not None and len(path.parts) == 1:
        if (models_dir / path).is_dir():  # a run name: models/<name>
            path = models_dir / path
    if path.is_file() and path.name == MODEL_FILE:
        path = path.parent
    if path.name == LATEST and path.is_symlink():
        target = path.resolve()
        if target.parent != path.parent.resolve():
            raise ModelError(f"{path} points outside {path.parent} (to {target}); refusing to load "
                             f"it, since loading runs code; pass --model with the folder you trust")
    if not path.exists():
        where = _models_listing(models_dir) if models_dir is not None else ""
        raise ModelError(f"no model at {path}{where}; {TRAIN_HINT}")
    if not path.is_dir():
        raise ModelError(f"{path} is not a model folder; pass the folder holding {MODEL_FILE}")
    return path


def read_manifest(path: str | Path | None = None) -> dict:
    """The manifest of the model folder ``path`` (default ``models/latest``), checked
    (``bundle.manifest.validate``)."""
    return _read_manifest(_model_folder(path))[0]


def _read_manifest(folder: Path) -> tuple[dict, int]:
    """(manifest, bundle format version) of a model folder, validated."""
    manifest_path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{manifest_path} is missing (incomplete model folder); {TRAIN_HINT}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{manifest_path}: unreadable ({str(exc).splitlines()[0]}); "
                         f"{TAMPER_HINT}") from None
    return manifest, manifests.validate(manifest, manifest_path)


def _read_verified(model_path: Path, expected: str, why: str = "since loading runs code") -> bytes:
    """The model file's bytes, only if their sha256 is ``expected`` (checked bytes = loaded bytes)."""
    try:
        data = model_path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{model_path} is missing (incomplete model folder); {TRAIN_HINT}") from None
    except OSError as exc:
        raise ModelError(f"{model_path}: cannot read ({exc.strerror})") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise ModelError(f"{model_path}: sha256 does not match {MANIFEST_FILE} (the file was changed "
                         f"or is corrupt): refusing to load it, {why}; {TAMPER_HINT}")
    return data


def load_model(path: str | Path | None = None) -> tuple[KwctModel, dict]:
    """Load a model folder (default ``models/latest``) after checking its sha256.

    The model file is read once, hashed, and only those bytes are unpickled, so a file swapped
    after the check is never loaded. Raises ``ModelError`` when the folder is absent/incomplete,
    the manifest is invalid or names another file, or the checksum differs; emits a
    ``ModelVersionWarning`` when the model was saved with another scikit-learn version.
    A ``latest`` link is resolved once, so a train moving it meanwhile cannot pair one run's
    manifest with another's model file; if it moved during a failed load, that load is retried once.
    """
    return _resolved(path, _load_folder)


def load_scorer(path: str | Path | None = None) -> tuple[CompiledScorer, dict] | None:
    """The compiled scorer of a model folder (default ``models/latest``) and its manifest, after
    checking scorer.npz's sha256 as ``load_model`` checks the pickle's (and the pickle's, unloaded: a
    changed folder is refused whichever file it loads); None when the folder has
    none (saved before it, a model without a compiled form, or a layout this kwct_ml does not read).
    Loads no pickle and imports no scikit-learn."""
    return _resolved(path, _load_scorer)


def _resolved(path, load: Callable[[Path], tuple]):
    """``load`` of the model folder ``path``; a ``latest`` link is resolved once, and retried once if
    it moved during a failed load (a train replaced it)."""
    link = _model_folder(path)
    folder = link.resolve()
    try:
        return load(folder)
    except ModelError:
        if link.is_symlink() and link.resolve() != folder:
            return load(link.resolve())
        raise


def _load_scorer(folder: Path) -> tuple[CompiledScorer, dict] | None:
    from kwct_ml.pipeline.compiled import LAYOUT, CompiledScorer

    manifest, _ = _read_manifest(folder)
    entry = manifest.get("scorer") or {}
    if entry.get("file") is None or entry.get("layout") != LAYOUT:
        return None
    # the pickle is not loaded, but a folder whose pickle was changed is refused as load_model refuses it
    _read_verified(folder / MODEL_FILE, manifest["sha256"])
    scorer_path = folder / SCORER_FILE
    data = _read_verified(scorer_path, entry["sha256"], "since the model would score with other weights")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            arrays = dict(saved)
        scorer = CompiledScorer(arrays, manifest.get("context", {}), manifest.get("context_temperature", {}))
    except Exception as exc:  # noqa: BLE001 - a checked but unreadable file is a model problem
        raise ModelError(f"{scorer_path}: cannot load ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); {TRAIN_HINT}") from None
    return scorer, manifest


def _load_folder(folder: Path) -> tuple[KwctModel, dict]:
    """``load_model`` of one real model folder (no link left to move)."""
    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    from kwct_ml.pipeline.model import KwctModel

    manifest, version = _read_manifest(folder)
    model_path = folder / MODEL_FILE
    data = _read_verified(model_path, manifest["sha256"])
    versions = manifest.get("versions")
    saved = versions.get("scikit-learn") if isinstance(versions, dict) else None
    other_version = saved is not None and saved != sklearn.__version__
    if other_version:
        warnings.warn(f"{model_path}: saved with scikit-learn {saved}, running {sklearn.__version__}; "
                      "predictions may differ or fail: re-train it with `python -m kwct_ml.train` "
                      f"(or install scikit-learn=={saved})", ModelVersionWarning, stacklevel=2)
    try:
        with warnings.catch_warnings():
            if other_version:  # already said above, in one line
                warnings.simplefilter("ignore", InconsistentVersionWarning)
            pipelines = read_pipelines(data, version)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a model problem for the user
        raise ModelError(f"{model_path}: cannot load ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}); re-train it with "
                         "`python -m kwct_ml.train`" + (f" (saved with scikit-learn {saved}, running "
                                                       f"{sklearn.__version__})" if other_version else "")
                         ) from None
    if not isinstance(pipelines, dict) or not pipelines:
        raise ModelError(f"{model_path}: not a kwct_ml model (expected task pipelines); {TRAIN_HINT}")
    context, temperature = manifest.get("context", {}), manifest.get("context_temperature", {})
    try:
        model = KwctModel(pipelines, context, temperature)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{model_path}: not a kwct_ml model ({exc}); {TRAIN_HINT}") from None
    return model, manifest


def default_card(manifest: dict) -> str:
    """The model card (README.md) of a model saved without one: reporting/card.py's template."""
    from kwct_ml.reporting.card import model_card  # reporting builds on this module: import when used

    return model_card(manifest)
