"""kwct_ml: sentence-level topic and stance tagging of Arabic diplomatic news on terrorism."""

__version__ = "0.1.0"
