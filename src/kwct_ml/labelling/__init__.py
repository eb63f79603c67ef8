"""The labelling workflow: sheet (prepare, read), merge, agreement, status."""
