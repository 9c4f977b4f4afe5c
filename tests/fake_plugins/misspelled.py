"""A plugin with a misspelled hook name, which must not be silently ignored."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_generator(register):  # missing the final "s"
    register("never", dict)
