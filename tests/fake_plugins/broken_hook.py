"""A plugin whose hook raises after registering one component (nothing of it may be kept)."""

from pgvg_core import hookimpl


def half_registered():
    """A generator that must not survive its plugin's failure."""


@hookimpl
def pgvg_register_generators(register):
    register("half-registered", half_registered)
    raise RuntimeError("boom inside the hook")
