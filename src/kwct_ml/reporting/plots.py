"""Report plots as PNG bytes: confusion matrices, top n-grams per class, learning curve, calibration.

Plots use matplotlib's Agg backend. matplotlib >= 3.11 shapes Arabic itself (libraqm), so raw
strings are passed; older versions get ``arabic_reshaper`` + ``bidi`` visual-order text instead.
"""

from __future__ import annotations

import io

import numpy as np

from kwct_ml.pipeline.model import KwctModel

ARABIC_FONTS = ("DejaVu Sans", "Noto Sans Arabic", "Noto Naskh Arabic", "Amiri", "Arial")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _mpl_shapes_arabic() -> bool:
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return (major, minor) >= (3, 11)


def arabic_for_plot(text: str) -> str:
    """Text to hand to matplotlib: raw on >= 3.11 (it shapes), else reshaped visual order."""
    if _mpl_shapes_arabic():
        return text
    try:
        import arabic_reshaper
        from bidi.algorithm import get_display
    except ImportError:  # pragma: no cover - both are dependencies
        return text
    return get_display(arabic_reshaper.reshape(text))


def arabic_font() -> str | None:
    """The first installed font with Arabic glyphs among ARABIC_FONTS (None: matplotlib default)."""
    from matplotlib import font_manager

    for name in ARABIC_FONTS:
        try:
            font_manager.findfont(name, fallback_to_default=False)
            return name
        except ValueError:
            continue
    return None


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def _rc() -> dict:
    font = arabic_font()
    return {"font.family": [font, "sans-serif"] if font else ["sans-serif"], "axes.unicode_minus": False}


def plot_confusion(task: str, metrics: dict, title: str) -> bytes:
    """Confusion matrix (rows gold, columns predicted) with counts."""
    plt = _pyplot()
    labels, matrix = metrics["labels"], np.asarray(metrics["confusion"])
    with plt.rc_context(_rc()):
        size = 1.0 + 0.6 * len(labels)
        fig, ax = plt.subplots(figsize=(size + 1.5, size))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        top = matrix.max() if matrix.size else 0
        for (i, j), value in np.ndenumerate(matrix):
            if value:
                ax.text(j, i, str(value), ha="center", va="center",
                        color="white" if value > top / 2 else "black", fontsize=9)
        ax.set_title(title)
        return _png(fig)


def top_ngrams(model: KwctModel, task: str, k: int = 8) -> dict[str, list[tuple[str, float]]]:
    """The k character n-grams with the largest weight for each class of ``task``.

    Word-boundary spaces (char_wb) are stripped; of n-grams equal after stripping, the heaviest
    is kept, so the k shown are distinct.
    """
    weights = model.class_weights(task)
    if weights is None:
        return {}
    raw = model.pipelines[task][:-1].get_feature_names_out()
    char = np.array([str(n).startswith("char__") for n in raw])
    names = [str(n)[len("char__"):].strip() for n in raw]
    out = {}
    for label, row in zip(model.classes(task), weights, strict=True):
        row = np.where(char, row, -np.inf)
        picked: dict[str, float] = {}
        for i in np.argsort(-row, kind="stable"):
            if len(picked) == k or not np.isfinite(row[i]):
                break
            if names[i] and names[i] not in picked:
                picked[names[i]] = float(row[i])
        out[label] = list(picked.items())
    return out


def top_other_features(model: KwctModel, task: str, k: int = 6) -> dict[str, list[tuple[str, float]]]:
    """The k cue and word features (everything but character n-grams) with the largest weight per class.

    Cue features often drive predictions more than any single n-gram; their real weights are shown.
    """
    weights = model.class_weights(task)
    if weights is None:
        return {}
    raw = [str(n) for n in model.pipelines[task][:-1].get_feature_names_out()]
    other = np.array([not n.startswith("char__") for n in raw])
    if not other.any():
        return {}
    names = model.feature_names(task)
    out = {}
    for label, row in zip(model.classes(task), weights, strict=True):
        row = np.where(other, row, -np.inf)
        best = [i for i in np.argsort(-row, kind="stable")[:k] if np.isfinite(row[i])]
        out[label] = [(str(names[i]), float(row[i])) for i in best]
    return out


def plot_top_ngrams(task: str, tops: dict[str, list[tuple[str, float]]]) -> bytes:
    """One bar chart per class: its top-weighted character n-grams (Arabic shaped, RTL)."""
    plt = _pyplot()
    labels = list(tops)
    cols = 4 if len(labels) > 6 else 3
    rows = max(1, -(-len(labels) // cols))
    with plt.rc_context(_rc()):
        fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
        for ax, label in zip(axes.flat, labels, strict=False):
            items = tops[label][::-1]
            ax.barh(range(len(items)), [w for _, w in items], color="#4c72b0")
            ax.set_yticks(range(len(items)), [arabic_for_plot(n) for n, _ in items], fontsize=11)
            ax.set_title(label, fontsize=10)
            ax.tick_params(axis="x", labelsize=7)
        for ax in list(axes.flat)[len(labels):]:
            ax.axis("off")
        fig.suptitle(f"{task}: top-weighted character n-grams per class (normalised text)")
        fig.tight_layout()
        return _png(fig)


def plot_learning_curve(curve: dict) -> bytes:
    """Out-of-fold macro-F1 against training articles, with the majority baseline."""
    plt = _pyplot()
    with plt.rc_context(_rc()):
        fig, ax = plt.subplots(figsize=(6, 3.8))
        ks = curve["k"]
        for (task, c), colour in zip(curve["tasks"].items(), ("#4c72b0", "#dd8452"), strict=False):
            mean, std = np.asarray(c["mean"]), np.asarray(c["std"])
            ax.plot(ks, mean, marker="o", color=colour, label=f"{task} model")
            ax.fill_between(ks, mean - std, mean + std, color=colour, alpha=0.2)
            ax.plot(ks, c["majority_mean"], linestyle="--", color=colour, alpha=0.7, label=f"{task} majority")
        ax.set_xticks(ks)
        ax.set_xlabel("training articles (plus authored sentences)")
        ax.set_ylabel("macro-F1 (out-of-fold)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Learning curve (leave-one-article-out)")
        return _png(fig)


def plot_reliability(cv: dict, title: str = "Calibration (out-of-fold)") -> bytes:
    """Reliability diagram of the top-label probability per task, each point labelled with its count.

    ``cv``: task -> {"model": scores with "reliability" bins}. A bin of 3 predictions says little,
    so every point shows how many predictions fall in it.
    """
    plt = _pyplot()
    with plt.rc_context(_rc()):
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
        for (task, systems), colour in zip(cv.items(), ("#4c72b0", "#dd8452"), strict=False):
            bins = systems["model"].get("reliability", [])
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=colour,
                    label=f"{task} (ECE {systems['model'].get('ece', 0):.2f})")
            for b in bins:
                ax.annotate(f"n={b['n']}", (b["confidence"], b["accuracy"]), textcoords="offset points",
                            xytext=(4, -10 if colour == "#4c72b0" else 6), fontsize=6, color=colour)
        ax.set_xlabel("predicted probability of the chosen label")
        ax.set_ylabel("fraction correct")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title(title)
        return _png(fig)
