"""Named-component registries: the hub where plugins and the core meet.

One :class:`Registry` per component kind, each mapping a lowercase-kebab name to a factory, a one-line
summary and the plugin that registered it. This package imports nothing heavy (no torch) so that listing
components and building the CLI stays instant.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterator
from typing import Any

import attrs

KINDS: tuple[str, ...] = (
    "generators",
    "discriminators",
    "evaluators",
    "losses",
    "objectives",
    "pose_sources",
    "augmentations",
    "metrics",
    "datasets",
    "skeletons",
)

# The singular of each kind, for messages such as "no generator 'scgann'".
SINGULAR: dict[str, str] = {
    "generators": "generator",
    "discriminators": "discriminator",
    "evaluators": "evaluator",
    "losses": "loss",
    "objectives": "objective",
    "pose_sources": "pose source",
    "augmentations": "augmentation",
    "metrics": "metric",
    "datasets": "dataset",
    "skeletons": "skeleton",
}

_NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class RegistryError(LookupError):
    """Base of every registry error; the CLI turns it into a short message and exit code 2."""


class UnknownNameError(RegistryError):
    """A name that no plugin registered."""


class DuplicateNameError(RegistryError):
    """The same name registered twice in one registry (usually by two plugins)."""


class InvalidNameError(RegistryError):
    """A name that is not lowercase-kebab (``my-generator``)."""


@attrs.frozen(kw_only=True)
class Entry:
    """One registered component."""

    kind: str
    name: str
    factory: Callable[..., Any]
    summary: str
    plugin: str

    @property
    def origin(self) -> str:
        """Where the factory is defined, e.g. ``pgvg_psgan.models.PSGANGenerator``."""
        module = getattr(self.factory, "__module__", "?")
        qualname = getattr(self.factory, "__qualname__", repr(self.factory))
        return f"{module}.{qualname}"


def _first_doc_line(factory: Callable[..., Any]) -> str:
    doc = getattr(factory, "__doc__", None) or ""
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


class Registry:
    """A name -> factory mapping for one component kind.

    >>> generators = Registry("generators")
    >>> generators.register("tiny", dict, summary="a tiny one", plugin="demo")
    >>> generators.get("tiny").summary
    'a tiny one'
    >>> generators.list("ti*")
    ['tiny']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    @property
    def singular(self) -> str:
        return SINGULAR.get(self.kind, self.kind)

    def register(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        summary: str | None = None,
        plugin: str = "<unknown>",
    ) -> None:
        """Add ``factory`` under ``name``; a second registration of the same name is an error naming both."""
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            raise InvalidNameError(
                f"invalid {self.singular} name {name!r} from plugin '{plugin}': names are lowercase-kebab, "
                f"e.g. 'my-{self.singular.replace(' ', '-')}'"
            )
        if not callable(factory):
            raise RegistryError(
                f"{self.singular} '{name}' from plugin '{plugin}' is not callable: register a class or a function"
            )
        if name in self._entries:
            first = self._entries[name]
            raise DuplicateNameError(
                f"'{name}' is already registered in {self.kind} by plugin '{first.plugin}' "
                f"(at {first.origin}); plugin '{plugin}' registers it again. "
                f"Rename one of them or disable a plugin with PGVG_DISABLE_PLUGINS={plugin}"
            )
        self._entries[name] = Entry(
            kind=self.kind,
            name=name,
            factory=factory,
            summary=summary if summary is not None else _first_doc_line(factory),
            plugin=plugin,
        )

    def get(self, name: str) -> Entry:
        """The entry for ``name``; an unknown name raises with close matches and the names available."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self._unknown_message(name)) from None

    def _unknown_message(self, name: object) -> str:
        available = sorted(self._entries)
        close = difflib.get_close_matches(str(name), available, n=1, cutoff=0.6)
        message = f"no {self.singular} {name!r}"
        if close:
            message += f"; did you mean '{close[0]}'?"
        if available:
            message += " available: " + ", ".join(available)
        else:
            message += f"; no {self.kind} are registered (is a plugin disabled or broken? see `pgvg plugins`)"
        return message

    def list(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a glob pattern (``list("patch*")``)."""
        return sorted(name for name in self._entries if fnmatch.fnmatchcase(name, pattern))

    def entries(self) -> list[Entry]:
        return [self._entries[name] for name in sorted(self._entries)]

    def unregister_plugin(self, plugin: str) -> None:
        """Drop everything one plugin registered (used when a plugin fails half-way)."""
        self._entries = {n: e for n, e in self._entries.items() if e.plugin != plugin}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"


class RegistrySet:
    """One :class:`Registry` per kind in :data:`KINDS`."""

    def __init__(self) -> None:
        self._by_kind = {kind: Registry(kind) for kind in KINDS}

    def __getitem__(self, kind: str) -> Registry:
        try:
            return self._by_kind[kind]
        except KeyError:
            close = difflib.get_close_matches(str(kind), KINDS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UnknownNameError(
                f"no component kind {kind!r}{hint} kinds: {', '.join(KINDS)}"
            ) from None

    def __iter__(self) -> Iterator[Registry]:
        return iter(self._by_kind.values())

    def entries(self) -> list[Entry]:
        return [entry for registry in self for entry in registry.entries()]

    def unregister_plugin(self, plugin: str) -> None:
        for registry in self:
            registry.unregister_plugin(plugin)


__all__ = [
    "KINDS",
    "SINGULAR",
    "DuplicateNameError",
    "Entry",
    "InvalidNameError",
    "Registry",
    "RegistryError",
    "RegistrySet",
    "UnknownNameError",
]
