"""Plugin loading: entry points of group ``pgvg`` -> pluggy -> one registry per kind.

Built-in plugins and third-party ones come through the same entry-point group. A plugin that fails to
import, declares a hook that does not exist, raises inside a hook, or registers a name that another plugin
already took is reported (name, distribution, error) and skipped; the others load. ``strict=True`` (or
``PGVG_STRICT_PLUGINS=1``) makes any such failure fatal; ``PGVG_DISABLE_PLUGINS=a,b`` blocks plugins by name.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
import pluggy

from pgvg_core import PROJECT_NAME, hookspecs
from pgvg_core.errors import PluginError
from registries import KINDS, RegistryError, RegistrySet

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "pgvg"
BUILTIN_DISTRIBUTION = "pgvg"
ENV_DISABLE = "PGVG_DISABLE_PLUGINS"
ENV_STRICT = "PGVG_STRICT_PLUGINS"


@attrs.define(kw_only=True)
class PluginReport:
    """What happened to one plugin: ``status`` is "ok", "failed" or "disabled"."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"
    error: str | None = None
    registered: list[str] = attrs.field(factory=list)  # "kind:name"

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class LoadedPlugins:
    """The result of :func:`load_plugins`: the filled registries and one report per plugin."""

    registries: RegistrySet
    reports: tuple[PluginReport, ...]
    manager: pluggy.PluginManager

    @property
    def failed(self) -> list[PluginReport]:
        return [report for report in self.reports if report.status == "failed"]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled_from_env() -> set[str]:
    return {part.strip() for part in os.environ.get(ENV_DISABLE, "").split(",") if part.strip()}


def _sorted_entry_points(entry_points: Iterable[importlib.metadata.EntryPoint]) -> list[Any]:
    # Built-ins first, so that a third-party plugin re-using a built-in name is the one reported; the
    # others by name, so which of two clashing plugins fails does not depend on install order.
    def key(ep: importlib.metadata.EntryPoint) -> tuple[int, str]:
        dist = _dist_name(ep)
        return (0 if dist == BUILTIN_DISTRIBUTION else 1, ep.name)

    return sorted(entry_points, key=key)


def _dist_name(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _dist_version(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class _Loader:
    """Collects reports while loading; one instance per :func:`load_plugins` call."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.manager = pluggy.PluginManager(PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.registries = RegistrySet()
        self.reports: dict[str, PluginReport] = {}

    def fail(self, report: PluginReport, what: str, error: BaseException) -> None:
        report.status = "failed"
        report.error = _describe(error)
        report.registered = []
        self.registries.unregister_plugin(report.name)
        dist = f" from distribution '{report.distribution}'" if report.distribution else ""
        message = f'Error {what} plugin "{report.name}"{dist}: {report.error}'
        if self.strict:
            raise PluginError(
                f"{message}\nFix or uninstall the plugin, or block it with {ENV_DISABLE}={report.name}."
            ) from error
        log.warning("%s (skipped; run with --strict to make this fatal)", message)

    def add(self, name: str, plugin: object, report: PluginReport) -> None:
        self.reports[name] = report
        try:
            self.manager.register(plugin, name=name)
        except Exception as error:  # pluggy validation: wrong hook signature, duplicate plugin name
            self.fail(report, "registering", error)
            return
        self._check_unknown_hooks(name, plugin, report)

    def _check_unknown_hooks(self, name: str, plugin: object, report: PluginReport) -> None:
        # A misspelled hook (pgvg_register_generator) would otherwise be silently ignored.
        known = {f"pgvg_register_{kind}" for kind in KINDS}
        for hook_caller in self.manager.get_hookcallers(plugin) or []:
            if hook_caller.name not in known:
                self.manager.unregister(plugin)
                self.fail(
                    report,
                    "registering",
                    PluginError(
                        f"unknown hook '{hook_caller.name}'; pgvg hooks are: {', '.join(sorted(known))}"
                    ),
                )
                return

    def run_hooks(self) -> None:
        for name, report in self.reports.items():
            if report.status != "ok":
                continue
            try:
                staged = self._collect(name)
                for kind, entry_name, factory, summary in staged:
                    self.registries[kind].register(entry_name, factory, summary=summary, plugin=name)
                    report.registered.append(f"{kind}:{entry_name}")
            except Exception as error:
                self.fail(report, "in", error)

    def _collect(self, plugin_name: str) -> list[tuple[str, str, Callable[..., Any], str | None]]:
        """Run one plugin's hooks with a staging ``register``; nothing is kept if any hook raises."""
        staged: list[tuple[str, str, Callable[..., Any], str | None]] = []
        for kind in KINDS:
            hook_caller = getattr(self.manager.hook, f"pgvg_register_{kind}")
            for impl in hook_caller.get_hookimpls():
                if impl.plugin_name != plugin_name:
                    continue

                def register(name: str, factory: Callable[..., Any], *, summary: str | None = None,
                             _kind: str = kind) -> None:
                    staged.append((_kind, name, factory, summary))

                impl.function(**{arg: register for arg in impl.argnames})
        return staged


def load_plugins(
    *,
    strict: bool | None = None,
    disabled: Iterable[str] = (),
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    extra_plugins: Sequence[tuple[str, object]] = (),
) -> LoadedPlugins:
    """Load every plugin of the ``pgvg`` entry-point group (plus ``extra_plugins``, for tests and notebooks).

    :param strict: make a broken plugin fatal; default from ``PGVG_STRICT_PLUGINS``.
    :param disabled: plugin names to block, added to those in ``PGVG_DISABLE_PLUGINS``.
    :param entry_points: the entry points to load; default: the installed ones of group ``pgvg``.
    :param extra_plugins: ``(name, module_or_object)`` pairs registered after the entry points.
    """
    loader = _Loader(strict=_env_flag(ENV_STRICT) if strict is None else strict)
    blocked = _disabled_from_env() | set(disabled)
    for name in sorted(blocked):
        loader.manager.set_blocked(name)

    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in _sorted_entry_points(entry_points):
        report = PluginReport(name=ep.name, distribution=_dist_name(ep), version=_dist_version(ep))
        if ep.name in loader.reports:
            loader.reports[ep.name + f" ({report.distribution})"] = report
            loader.fail(report, "loading", PluginError(f"a plugin named '{ep.name}' is already loaded"))
            continue
        if ep.name in blocked:
            report.status = "disabled"
            loader.reports[ep.name] = report
            continue
        try:
            module = ep.load()
        except Exception as error:
            loader.reports[ep.name] = report
            loader.fail(report, "importing", error)
            continue
        loader.add(ep.name, module, report)

    for name, plugin in extra_plugins:
        report = PluginReport(name=name, distribution=None, version=None)
        if name in blocked:
            report.status = "disabled"
            loader.reports[name] = report
            continue
        loader.add(name, plugin, report)

    loader.run_hooks()
    return LoadedPlugins(
        registries=loader.registries, reports=tuple(loader.reports.values()), manager=loader.manager
    )


_current: LoadedPlugins | None = None


def get_plugins() -> LoadedPlugins:
    """The process-wide plugins, loaded on first use."""
    global _current
    if _current is None:
        _current = load_plugins()
    return _current


def set_plugins(plugins: LoadedPlugins | None) -> None:
    """Replace the process-wide plugins (``None`` reloads on next use); tests use this for isolation."""
    global _current
    _current = plugins


def get_registries() -> RegistrySet:
    return get_plugins().registries


__all__ = [
    "ENTRY_POINT_GROUP",
    "LoadedPlugins",
    "PluginReport",
    "RegistryError",
    "get_plugins",
    "get_registries",
    "load_plugins",
    "set_plugins",
]
