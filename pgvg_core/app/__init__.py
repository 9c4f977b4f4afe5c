"""The applications built on the two stages: pipelines (``pgvg demo``), inference bundles (``pgvg export``),
animating a photo (``pgvg animate``) and driving one with a video (``--drive``, :mod:`.motion_transfer`)."""
