"""Building components by name: every component a config names, checked against its registry (the name, with
close matches; the parameters, against the factory's signature) and built."""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from pgvg_core.config.checks import _coerce, _join, _type_name, _unknown_key_message, matches_type
from pgvg_core.config.schema import ComponentSpec, ExperimentConfig, LossTerm, NetworkSpec
from pgvg_core.errors import ConfigError
from registries import SINGULAR, RegistryError, RegistrySet

# ------------------------------------------------------------------------------------------- building


def iter_components(config: ExperimentConfig) -> list[tuple[str, str, ComponentSpec | NetworkSpec | LossTerm]]:
    """Every component of a config as (kind, TOML path, spec)."""
    found: list[tuple[str, str, Any]] = []
    for field in attrs.fields(ExperimentConfig):
        kind = field.metadata.get("kind")
        value = getattr(config, field.name)
        if kind is None or value is None:
            continue
        if isinstance(value, dict):
            found += [(kind, f"{field.name}.{key}", spec) for key, spec in value.items()]
        elif isinstance(value, list):
            found += [(kind, f"{field.name}[{i}]", spec) for i, spec in enumerate(value)]
        else:
            found.append((kind, field.name, value))
    return found


def validate_components(config: ExperimentConfig, registries: RegistrySet) -> None:
    """Check that every named component exists and that its params fit its factory."""
    for kind, path, spec in iter_components(config):
        if not spec.name and isinstance(spec, LossTerm):
            continue  # the objective's default loss for this term
        factory = _lookup(registries, kind, spec.name, file=config.source, path=f"{path}.name")
        check_params(factory, spec.params, file=config.source, path=f"{path}.params", require=False)


def _lookup(registries: RegistrySet, kind: str, name: str, *, file: str | None, path: str) -> Callable[..., Any]:
    try:
        return registries[kind].get(name).factory
    except RegistryError as error:
        raise ConfigError(str(error), file=file, path=path) from None


def _signature(factory: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: accept any keyword
        signature = inspect.Signature([inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # annotations naming types we cannot resolve here: skip type checks
        hints = {}
    return signature, hints


def check_params(
    factory: Callable[..., Any],
    params: Mapping[str, Any],
    *,
    file: str | None,
    path: str,
    provided: Sequence[str] = (),
    require: bool = True,
) -> dict[str, Any]:
    """Check ``params`` against the factory's signature; returns them coerced (ints to floats, lists to tuples).

    :param provided: argument names the caller passes itself (not expected in the config).
    :param require: also report required arguments that neither ``params`` nor ``provided`` give.
    """
    signature, hints = _signature(factory)
    parameters = {
        name: p
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    allowed = [name for name in parameters if name not in provided]
    checked: dict[str, Any] = {}
    for key, value in params.items():
        if key in provided:
            raise ConfigError(f"'{key}' is set by pgvg itself and cannot be configured", file=file, path=_join(path, key))
        if key not in parameters:
            if takes_any:
                checked[key] = value
                continue
            raise ConfigError(_unknown_key_message(key, allowed) if allowed else f"unknown key '{key}'; this "
                              "component takes no parameters", file=file, path=_join(path, key))
        annotation = hints.get(key, parameters[key].annotation)
        if isinstance(annotation, str):  # unresolved forward reference
            annotation = Any
        if not matches_type(value, annotation):
            raise ConfigError(
                f"expected {_type_name(annotation)}, got {_type_name(type(value))} {value!r}",
                file=file,
                path=_join(path, key),
            )
        checked[key] = _coerce(value, annotation)
    if require:
        for name, p in parameters.items():
            if p.default is p.empty and name not in params and name not in provided:
                raise ConfigError(f"missing required parameter '{name}'", file=file, path=_join(path, name))
    return checked


def build(
    kind: str,
    spec: ComponentSpec | NetworkSpec | LossTerm,
    *,
    registries: RegistrySet | None = None,
    file: str | None = None,
    path: str | None = None,
    **provided: Any,
) -> Any:
    """Build a component by name: look it up in the ``kind`` registry, check its params, call its factory.

    ``provided`` are arguments that pgvg supplies itself (for example the number of classes of the dataset).
    """
    if registries is None:
        from pgvg_core.plugins import get_registries

        registries = get_registries()
    path = path or SINGULAR.get(kind, kind)
    factory = _lookup(registries, kind, spec.name, file=file, path=f"{path}.name")
    signature, _ = _signature(factory)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    _check_context_names(factory, signature, provided, kind=kind, name=spec.name, file=file, path=path)
    # Pass only what the factory accepts: a network need not take every piece of context pgvg offers.
    extra = {k: v for k, v in provided.items() if takes_any or k in signature.parameters}
    params = check_params(factory, spec.params, file=file, path=f"{path}.params", provided=list(extra))
    try:
        return factory(**params, **extra)
    except ValueError as error:  # a component's own check of its values; anything else is a bug and surfaces
        raise ConfigError(str(error), file=file, path=f"{path}.params") from None


def _check_context_names(factory: Any, signature: inspect.Signature, provided: Mapping[str, Any], *, kind: str,
                         name: str, file: str | None, path: str) -> None:
    """A factory parameter named almost like a piece of context pgvg provides (``num_class`` for
    ``num_classes``) would silently keep its default: an error that names both."""
    for parameter in signature.parameters:
        if parameter in provided or parameter == "self":
            continue
        close = difflib.get_close_matches(parameter, list(provided), n=1, cutoff=0.85)
        if close:
            raise ConfigError(
                f"{SINGULAR.get(kind, kind)} '{name}' ({getattr(factory, '__qualname__', factory)}) takes "
                f"'{parameter}', which looks like '{close[0]}' that pgvg provides: it would never receive it and "
                f"keep its default; rename the parameter to '{close[0]}'", file=file, path=path)
