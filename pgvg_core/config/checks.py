"""Checking a TOML value against a field's annotation, and messages that name its TOML path (shared by the
sections' structuring and the components' parameters)."""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

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




def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown key '{key}'; {hint}allowed keys: {', '.join(allowed)}"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
