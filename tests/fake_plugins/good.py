"""A working plugin with one component of two kinds."""

from pgvg_core import hookimpl


def tiny_generator(*, ngf: int = 8, dropout: float = 0.0, name: str = "tiny", sizes: tuple[int, int] = (1, 2)):
    """A tiny generator factory for tests."""
    return {"ngf": ngf, "dropout": dropout, "name": name, "sizes": sizes}


def needs_channels(*, channels: int, ngf: int = 8):
    """A factory with a required parameter."""
    return {"channels": channels, "ngf": ngf}


@hookimpl
def pgvg_register_generators(register):
    register("tiny-gen", tiny_generator)
    register("needs-channels", needs_channels, summary="needs channels")


@hookimpl
def pgvg_register_datasets(register):
    register("tiny-data", dict, summary="a dataset stand-in")
