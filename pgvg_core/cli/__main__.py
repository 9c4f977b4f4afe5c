"""``python -m pgvg_core.cli``: the ``pgvg`` command (how ``pgvg run --nproc`` starts torchrun's workers)."""

from pgvg_core.cli import main

main()
