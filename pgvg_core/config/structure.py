"""From TOML to config objects and back: structuring (every error names the file and the TOML path), reading
files, ``--set`` overrides, writing configs."""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from pgvg_core.config.checks import _coerce, _join, _type_name, _unknown_key_message, matches_type
from pgvg_core.config.schema import ExperimentConfig, FieldError
from pgvg_core.errors import ConfigError
from registries import RegistrySet

# -------------------------------------------------------------------------------------- structuring


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
        from pgvg_core.config.components import validate_components  # components build on the structure

        validate_components(config, registries)
    return config


def config_to_toml(config: ExperimentConfig) -> str:
    return tomli_w.dumps(unstructure(config))


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(config_to_toml(config), encoding="utf-8")
