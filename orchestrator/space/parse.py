"""Reading a parameter from a Parameter, a mapping or a shorthand list (YAML or Python)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.space.params import Categorical, Integer, Lattice, Parameter, Real, SpaceError

__all__ = ["parse_parameter"]


_TYPES = {"lattice": Lattice, "int": Integer, "integer": Integer, "real": Real, "float": Real,
          "categorical": Categorical}


def parse_parameter(name: str, spec: Any) -> Parameter:
    """Turn a parameter object, a dict or a shorthand list into a Parameter (names it for errors)."""
    try:
        param = _parse(name, spec)
    except SpaceError:
        raise
    except (TypeError, ValueError) as err:
        raise SpaceError(f"parameter '{name}': cannot read {spec!r} ({err}); write e.g. "
                         "{lower: 1, upper: 100, scale: 5e-5}, {low: 1e-5, high: 1e-2, log: true}, "
                         "{low: 1, high: 8, type: int} or [relu, tanh]") from None
    param.name = name
    return param


def _parse(name: str, spec: Any) -> Parameter:
    if isinstance(spec, Parameter):
        return spec
    if isinstance(spec, Mapping):
        spec = dict(spec)
        kind = str(spec.pop("type", "")).lower()
        if not kind:
            kind = ("lattice" if "lower" in spec else "categorical" if "choices" in spec
                    else "int" if all(isinstance(spec.get(k), int) for k in ("low", "high")) and not spec.get("log")
                    else "real")
        if kind not in _TYPES:
            raise SpaceError(f"parameter '{name}': unknown type {kind!r}; use one of {sorted(set(_TYPES))}")
        cls = _TYPES[kind]
        return _construct(name, cls, spec)
    if isinstance(spec, (list, tuple)):
        items = list(spec)
        numeric = len(items) in (2, 3) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items[:2])
        if numeric and (len(items) == 2 or items[2] in ("log", "log-uniform", "linear", "uniform")):
            log = len(items) == 3 and str(items[2]).startswith("log")
            if all(isinstance(v, int) for v in items[:2]) and not log:
                return _construct(name, Integer, {"low": items[0], "high": items[1]})
            return _construct(name, Real, {"low": items[0], "high": items[1], "log": log})
        return _construct(name, Categorical, {"choices": items})
    raise SpaceError(f"parameter '{name}': cannot read {spec!r}; write a mapping such as "
                     "{lower: 1, upper: 100, scale: 1} or a list of choices")


_REQUIRED = {"lattice": ("lower", "upper"), "int": ("low", "high"), "real": ("low", "high"),
             "categorical": ("choices",)}


def _construct(name: str, cls: type, fields: dict) -> Parameter:
    missing = [f for f in _REQUIRED[cls.kind] if f not in fields]
    if missing:
        raise SpaceError(f"parameter '{name}': missing field '{missing[0]}' for type {cls.kind!r}; "
                         f"give {', '.join(_REQUIRED[cls.kind])}")
    try:
        if cls is Integer:
            return Integer(fields.pop("low"), fields.pop("high"), **fields)
        return cls(**fields)
    except KeyError as err:
        raise SpaceError(f"parameter '{name}': missing field {err} for type {cls.kind!r}") from None
    except TypeError as err:
        raise SpaceError(f"parameter '{name}': {err}") from None
    except SpaceError as err:  # raised before the parameter knew its name
        raise SpaceError(str(err).replace("parameter '?'", f"parameter '{name}'", 1)) from None
