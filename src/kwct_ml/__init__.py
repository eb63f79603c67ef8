"""kwct_ml: sentence-level topic and stance tagging of Arabic diplomatic news on terrorism."""

__version__ = "0.1.0"

__all__ = ["ArticleSummary", "SentenceTag", "Tagger", "__version__"]
_API = {"Tagger", "SentenceTag", "ArticleSummary"}


def __getattr__(name: str):
    """``from kwct_ml import Tagger`` without importing scikit-learn on ``import kwct_ml``."""
    if name in _API:
        from kwct_ml.inference import tagger

        return getattr(tagger, name)
    raise AttributeError(f"module 'kwct_ml' has no attribute {name!r}")
