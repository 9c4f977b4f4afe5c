"""Built-in datasets: procedural ``synthetic-actions`` and real ``video-folder`` clips."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_datasets(register):
    from pgvg_data.synthetic import SyntheticActions

    register("synthetic-actions", SyntheticActions)
