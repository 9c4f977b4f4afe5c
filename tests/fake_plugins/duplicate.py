"""A plugin that registers a name the 'good' plugin already took."""

from pgvg_core import hookimpl


@hookimpl
def pgvg_register_generators(register):
    register("tiny-gen", dict)
