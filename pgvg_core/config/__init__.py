"""Experiment configs: TOML files -> frozen attrs objects, ``--set`` overrides, building components by name.

A component is written ``{name = "...", params = {...}}``. Every error names the file and the TOML path
(``generators.g1.params.ngf``) and says how to fix it.

The schema::

    [experiment]   name, seed, description
    [data]         the dataset component (registry ``datasets``)
    [trainer]      steps, batch size, device, precision, logging and checkpoint cadence
    [objective]    the training objective (registry ``objectives``): how the networks below are trained
    [generators.<role>]      networks (registry ``generators``), plus their optimiser settings
    [discriminators.<role>]  networks (registry ``discriminators``)
    [evaluators.<role>]      networks that metrics use to judge outputs (registry ``evaluators``)
    [losses.<term>]          weighted loss terms the objective uses (registry ``losses``); weight 0 switches off
    [augmentations.<slot>]   augmentations the objective uses (registry ``augmentations``)
    [[metrics]]              metrics computed at evaluation (registry ``metrics``)
"""

from __future__ import annotations

import difflib
import inspect
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from pgvg_core.errors import ConfigError
from registries import SINGULAR, RegistryError, RegistrySet

# ---------------------------------------------------------------------------------------------- schema


class FieldError(ValueError):
    """A bad value of one field of a config section: the error names the field's TOML path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _kind(kind: str) -> dict[str, str]:
    """Field metadata: the registry kind of a component field."""
    return {"kind": kind}


@attrs.frozen(kw_only=True)
class ComponentSpec:
    """A named component and its parameters: ``{name = "scgan", params = {ngf = 32}}``."""

    name: str
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class NetworkSpec:
    """A network, its parameters and its optimiser (Adam, as in the paper)."""

    name: str
    params: dict[str, Any] = attrs.field(factory=dict)
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    # Start from trained weights instead of the seed's: "shipped" (pgvg's bundle), a bundle file, or a run
    # folder, optionally ":<stage or role>" (a bundle's "scgan" / "psgan" stage, by default "scgan"; a run's
    # network role, by default this one's). See pgvg_core.training.experiment.initial_weights.
    init: str = ""


@attrs.frozen(kw_only=True)
class LossTerm:
    """A weighted loss term; ``weight = 0`` switches it off. No ``name``: the objective's default loss."""

    name: str = ""
    weight: float = 1.0
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ExperimentSection:
    name: str = "experiment"
    seed: int = 0
    description: str = ""


DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
LR_SCHEDULES = ("constant", "cosine")


@attrs.frozen(kw_only=True)
class TrainerConfig:
    steps: int = 1000
    batch_size: int = 8
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False  # convolution weights (and so activations) in NHWC: oneDNN's fast layout on a CPU
    compile: bool = False  # torch.compile each network (the first steps wait for the compiler)
    num_workers: int = 0
    log_every: int = 25
    sample_every: int = 250
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    eval_every: int = 0
    eval_clips: int = 200
    samples: int = 6
    grad_clip: float = 0.0
    threads: int = 0
    lr_schedule: str = "constant"  # "cosine": every network's lr decays from its `lr` to 0 over `steps`

    def __attrs_post_init__(self) -> None:
        positive = ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                    "eval_clips", "samples")
        for field in positive:
            if getattr(self, field) <= 0:
                raise FieldError(field, f"{field} must be > 0, got {getattr(self, field)}")
        for field, allowed in (("device", DEVICES), ("precision", PRECISIONS), ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, field) not in allowed:
                raise FieldError(field, f"{field} must be one of {', '.join(allowed)}, got {getattr(self, field)!r}")
        for field in ("num_workers", "eval_every", "threads"):
            if getattr(self, field) < 0:
                raise FieldError(field, f"{field} must be >= 0, got {getattr(self, field)}")


@attrs.frozen(kw_only=True)
class ExperimentConfig:
    experiment: ExperimentSection = attrs.field(factory=ExperimentSection)
    data: ComponentSpec = attrs.field(metadata=_kind("datasets"))
    trainer: TrainerConfig = attrs.field(factory=TrainerConfig)
    objective: ComponentSpec | None = attrs.field(default=None, metadata=_kind("objectives"))
    generators: dict[str, NetworkSpec] = attrs.field(factory=dict, metadata=_kind("generators"))
    discriminators: dict[str, NetworkSpec] = attrs.field(factory=dict, metadata=_kind("discriminators"))
    evaluators: dict[str, NetworkSpec] = attrs.field(factory=dict, metadata=_kind("evaluators"))
    losses: dict[str, LossTerm] = attrs.field(factory=dict, metadata=_kind("losses"))
    augmentations: dict[str, ComponentSpec] = attrs.field(factory=dict, metadata=_kind("augmentations"))
    metrics: list[ComponentSpec] = attrs.field(factory=list, metadata=_kind("metrics"))
    # Where this config came from; not part of the TOML.
    source: str | None = attrs.field(default=None, metadata={"internal": True})


# ---------------------------------------------------------------------------------------- type checks


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def matches_type(value: Any, annotation: Any) -> bool:
    """Whether a TOML value fits a (simple) annotation; anything we cannot judge is accepted."""
    if annotation is Any or annotation is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, arg) for arg in args)
    if annotation is type(None):
        return value is None
    if origin is typing.Literal:
        return value in args
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (list, tuple) or origin in (list, tuple, Sequence, typing.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches_type(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return all(matches_type(v, item) for v in value)
    if annotation is dict or origin in (dict, Mapping, typing.Mapping):
        return isinstance(value, dict)
    return True


def _coerce(value: Any, annotation: Any) -> Any:
    """TOML has no tuples and ints where floats are expected: convert to what the annotation asks."""
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(annotation) is tuple and isinstance(value, list):
        return tuple(value)
    return value


# -------------------------------------------------------------------------------------- structuring


def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown key '{key}'; {hint}allowed keys: {', '.join(allowed)}"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def structure(cls: type, data: Any, *, file: str | None, path: str) -> Any:
    """Build the attrs class ``cls`` from TOML data, checking keys, types and validators."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a table, got {_type_name(type(data))} {data!r}", file=file, path=path)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attrs.fields(cls) if not f.metadata.get("internal")}
    for key in data:
        if key not in fields:
            raise ConfigError(_unknown_key_message(key, list(fields)), file=file, path=_join(path, key))
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is attrs.NOTHING:
                raise ConfigError(f"missing required key '{name}'", file=file, path=_join(path, name))
            continue
        kwargs[name] = _structure_value(hints[name], data[name], file=file, path=_join(path, name))
    try:
        return cls(**kwargs)
    except FieldError as error:
        raise ConfigError(str(error), file=file, path=_join(path, error.field)) from None
    except (ValueError, TypeError) as error:
        raise ConfigError(str(error), file=file, path=path) from None


def _structure_value(annotation: Any, value: Any, *, file: str | None, path: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if value is None:
            return None
        if len(non_none) == 1:
            return _structure_value(non_none[0], value, file=file, path=path)
    if attrs.has(annotation):
        return structure(annotation, value, file=file, path=path)
    if origin is dict and args and attrs.has(args[1]):
        if not isinstance(value, dict):
            raise ConfigError(f"expected a table of {args[1].__name__}, got {value!r}", file=file, path=path)
        return {k: structure(args[1], v, file=file, path=_join(path, k)) for k, v in value.items()}
    if origin is list and args and attrs.has(args[0]):
        if not isinstance(value, list):
            raise ConfigError(f"expected an array of tables, got {value!r}", file=file, path=path)
        return [structure(args[0], v, file=file, path=_join(path, i)) for i, v in enumerate(value)]
    if not matches_type(value, annotation):
        raise ConfigError(
            f"expected {_type_name(annotation)}, got {_type_name(type(value))} {value!r}", file=file, path=path
        )
    return _coerce(value, annotation)


def unstructure(obj: Any) -> Any:
    """The TOML-ready dict of a config object (tuples become arrays, ``None`` is left out)."""
    if attrs.has(type(obj)):
        out = {}
        for field in attrs.fields(type(obj)):
            if field.metadata.get("internal"):
                continue
            value = getattr(obj, field.name)
            if value is not None and not (isinstance(value, (dict, list)) and not value):
                out[field.name] = unstructure(value)
        return out
    if isinstance(obj, dict):
        return {k: unstructure(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [unstructure(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------ files, overrides


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {error}", file=str(path)) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"trainer.steps=2000"`` -> (["trainer", "steps"], 2000).

    The value uses TOML syntax (``1e-4``, ``true``, ``"text"``, ``[1, 2]``, ``{ngf = 32}``); a bare word that is
    not valid TOML (``cpu``, ``scgan``) is taken as a string.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError(f"bad override {text!r}: write KEY=VALUE, e.g. --set trainer.steps=2000")
    parts = key.split(".")
    if any(not part.strip() for part in parts):
        raise ConfigError(f"bad override {text!r}: empty part in key '{key}'")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        if raw and not any(ch in raw for ch in "\"'[]{}=,") and not raw[0].isdigit():
            value = raw
        else:
            raise ConfigError(
                f"bad override {text!r}: '{raw}' is not a TOML value; quote strings (key=\"text\"), "
                "write arrays as [1, 2] and tables as {a = 1}"
            ) from None
    return [part.strip() for part in parts], value


def apply_override(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise ConfigError(f"cannot set '{'.'.join(keys)}': '{where}' is {child!r}, not a table")
        node = child
    node[keys[-1]] = value


def load_config(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    registries: RegistrySet | None = None,
) -> ExperimentConfig:
    """Read a TOML experiment file, apply ``--set`` overrides, and validate it (against ``registries``)."""
    data = read_toml(path)
    for text in overrides:
        apply_override(data, *parse_override(text))
    return config_from_dict(data, file=str(path), registries=registries)


def config_from_dict(
    data: dict[str, Any], *, file: str | None = None, registries: RegistrySet | None = None
) -> ExperimentConfig:
    config = structure(ExperimentConfig, data, file=file, path="")
    config = attrs.evolve(config, source=file)
    if registries is not None:
        validate_components(config, registries)
    return config


def config_to_toml(config: ExperimentConfig) -> str:
    return tomli_w.dumps(unstructure(config))


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(config_to_toml(config), encoding="utf-8")


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
