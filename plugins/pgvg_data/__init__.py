"""Built-in datasets: procedural ``synthetic-actions`` and ``synthetic-faces``, and real ``video-folder`` clips."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_datasets(register):
    from pgvg_data.faces import SyntheticFaces
    from pgvg_data.synthetic import SyntheticActions
    from pgvg_data.video_folder import VideoFolder

    register("synthetic-actions", SyntheticActions)
    register("synthetic-faces", SyntheticFaces)
    register("video-folder", VideoFolder)
