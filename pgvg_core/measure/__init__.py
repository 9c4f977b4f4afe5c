"""Measuring: metrics over a dataset for a run (:mod:`.evaluation`), ``pgvg score`` between two sets of
frames, the conformance of each metric with its reference, and shared statistics."""
