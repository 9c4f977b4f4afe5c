"""Shared fixtures: each test gets fresh plugins, and slow / GPU tests are opt-in."""

from __future__ import annotations

import pytest

from pgvg_core import plugins as plugin_loader


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    cuda = _cuda_available()
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not cuda:
            item.add_marker(skip_gpu)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch):
    """A fresh plugin manager for each test, with no plugin environment variables leaking in."""
    monkeypatch.delenv("PGVG_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("PGVG_STRICT_PLUGINS", raising=False)
    plugin_loader.set_plugins(None)
    yield
    plugin_loader.set_plugins(None)
