"""The experiment: what to tune, how often to train each point, the budget; read from YAML."""

from __future__ import annotations

import difflib
import importlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from orchestrator.optimizers import OPTIMIZERS
from orchestrator.pruners import make_pruner, pruner_spec
from orchestrator.space import SearchSpace, SpaceError
from orchestrator.strict_yaml import YamlInputError, parse_yaml, read_text

__all__ = ["STAGES", "Experiment", "ExperimentError", "effective_min_ok", "load_experiment",
           "parse_stages"]

# Fields that must match between a store and the experiment resuming it.
RESUME_KEYS = ("trial", "model", "data", "fixed", "epochs", "trials", "space", "pruning")
# Operational fields a resume may change (a longer timeout, more retries): said in one line.
OPERATIONAL_KEYS = {"trial_timeout": None, "retries": 1}  # with the value a store without them had
STAGES = ("broad", "focus")  # a store's ``stage`` array holds an index into this


class ExperimentError(ValueError):
    """An invalid experiment definition; the message names the file, the field and the fix."""


@dataclass
class Experiment:
    """One search: the space, the trial function and its fixed arguments, T trials per point, budget."""

    space: SearchSpace
    trial: str = "models.trial:run_trial"
    model: str = ""
    data: dict = field(default_factory=dict)
    fixed: dict = field(default_factory=dict)
    epochs: int = 10
    trials: int = 5
    budget: int = 100
    max_pending: int | None = None
    seed: int = 0
    optimizer: dict = field(default_factory=lambda: {"name": "rbf"})
    store: str | None = None
    name: str = "experiment"
    stage: str = "broad"
    penalty: float | None = None
    min_ok: int | None = None
    fail_fast: int = 3
    resources: dict | None = None
    cluster: dict = field(default_factory=dict)
    stages: list | None = None
    deterministic: bool = False
    trial_timeout: float | None = None  # seconds a trial may run; None: no limit
    retries: int = 1  # reruns of a trial whose worker died while running it
    pruning: Any = None  # none (default), asha, median or {rule: asha, ...}: orchestrator.pruners

    source: InitVar[str] = "experiment"  # where the definition came from, named in errors

    def __post_init__(self, source: str) -> None:
        """Check every field as a YAML file is checked; raise ExperimentError naming the fix."""
        spec = {f.name: getattr(self, f.name) for f in fields(self)}
        _check_types(spec, source)
        self.optimizer, self.data, self.fixed = spec["optimizer"], spec["data"], spec["fixed"]
        if self.stages:  # epochs and budget follow from the stages
            self.stages = parse_stages(self.stages, source)
            self.epochs = max(s["epochs"] for s in self.stages)
            self.budget = sum(s["budget"] for s in self.stages)
        if not isinstance(self.space, SearchSpace):
            try:
                self.space = SearchSpace(self.space or {})
            except SpaceError as err:
                raise ExperimentError(f"{source}: field 'space': {err}") from None
        self.pruning = _check_pruning(self.pruning, self.epochs, self.trials, source)
        overlap = set(self.fixed) & set(self.space.names)
        if overlap:
            raise ExperimentError(f"{source}: field 'fixed': {sorted(overlap)} are also in 'space'; "
                                  "keep each hyperparameter in one of them")
        self.check_size(source)

    def check_size(self, source: str = "experiment") -> None:
        """Refuse an experiment too large to run: limits, the store mirror's memory, the record."""
        for key, limit in LIMITS.items():
            if getattr(self, key) > limit:
                raise ExperimentError(f"{source}: field '{key}' is {getattr(self, key)}, above the "
                                      f"limit {limit:,}; lower it (e.g. {key}: {_EXAMPLES[key]})")
        need, have = mirror_bytes(self), available_memory()
        if have and need > have:
            raise ExperimentError(
                f"{source}: budget {self.budget} x trials {self.trials} x epochs {self.epochs} needs "
                f"about {_gib(need)} of memory for the results store, more than the {_gib(have)} "
                "available here; lower budget, trials or epochs")
        try:
            size = len(json.dumps(self.to_dict()))
        except (TypeError, ValueError) as err:
            raise ExperimentError(f"{source}: the experiment cannot be recorded as JSON ({err}); "
                                  "keep data:, fixed: and cluster: to plain values") from None
        if size > MAX_RECORD_BYTES:
            raise ExperimentError(f"{source}: the experiment is {size:,} bytes as JSON, above the "
                                  f"limit {MAX_RECORD_BYTES:,}; keep data: to file names and small "
                                  "options (a YAML anchor expanded many times?)")

    def to_dict(self) -> dict:
        """A JSON-able description (stored in the results store's attributes)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "space"}
        out["space"] = self.space.to_dict()
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, spec: Any, source: str = "experiment") -> Experiment:
        """An experiment from a plain mapping (e.g. parsed YAML); errors name ``source``, the field and the fix."""
        if not isinstance(spec, dict):
            raise ExperimentError(f"{source}: expected a mapping of fields (space:, budget:, ...), "
                                  f"got {type(spec).__name__}")
        known = {f.name for f in fields(cls)}
        for key in spec:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                fix = f"did you mean '{hint[0]}'?" if hint else f"known fields: {', '.join(sorted(known))}"
                raise ExperimentError(f"{source}: unknown field '{key}'; {fix}")
        if "space" not in spec:
            raise ExperimentError(f"{source}: field 'space' is missing; add e.g. "
                                  "space: {lr_gen: {lower: 1, upper: 200, scale: 5.0e-5}}")
        exp = cls(**spec, source=source)
        for key in ("epochs", "budget") if exp.stages else ():
            if key in spec and spec[key] != getattr(exp, key):
                raise ExperimentError(f"{source}: field '{key}' is {spec[key]!r} but the stages "
                                      f"make it {getattr(exp, key)}; remove '{key}' and set it per stage")
        return exp

    def check_trial(self) -> None:
        """Raise ExperimentError unless the trial function imports here and is callable."""
        module, _, name = self.trial.partition(":")
        try:
            imported = importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - any failure to import is the same user error
            raise ExperimentError(f"field 'trial' {self.trial!r}: cannot import module {module!r} "
                                  f"({type(err).__name__}: {err}); fix the path, or run from the "
                                  "directory that holds it or install its package") from None
        fn = getattr(imported, name, None)
        if fn is None:
            raise ExperimentError(f"field 'trial' {self.trial!r}: module {module!r} has no "
                                  f"{name!r}; fix the function name")
        if not callable(fn):
            raise ExperimentError(f"field 'trial' {self.trial!r}: {name!r} is not a function")

    def check_resumable(self, stored: dict, where: str) -> None:
        """Raise unless a store written by experiment ``stored`` can be continued by this one;
        print one line (once per store) naming the operational fields that change."""
        mine = self.to_dict()
        stored = {**stored, "pruning": pruner_spec(stored.get("pruning"))}  # older stores: none
        for key in RESUME_KEYS:
            if stored.get(key) != mine.get(key):
                raise ExperimentError(
                    f"store {where} was made by a different experiment: field '{key}' is "
                    f"{json.dumps(stored.get(key))} there and {json.dumps(mine.get(key))} here; "
                    "use a new --store, or restore the field to resume")
        changed = [f"{key} {json.dumps(stored.get(key, default))} -> {json.dumps(mine.get(key))}"
                   for key, default in OPERATIONAL_KEYS.items()
                   if stored.get(key, default) != mine.get(key)]
        noted = self.__dict__.setdefault("_resume_noted", set())  # validate, then open: once
        if changed and (where, *changed) not in noted:
            noted.add((where, *changed))
            print(f"ganhpo: resuming {where} with {', '.join(changed)} (operational fields: the new "
                  "values apply to the trials run from now on)")


def _check_pruning(spec: Any, epochs: int, trials: int, source: str) -> dict:
    """The canonical ``pruning`` mapping, after building the rule once (its errors name the fix)."""
    try:
        make_pruner(spec, epochs, trials)
        return pruner_spec(spec)
    except ValueError as err:
        raise ExperimentError(f"{source}: field 'pruning': {err}") from None


_POSITIVE_INTS = ("epochs", "trials", "budget", "max_pending")
LIMITS = {"epochs": 100_000, "trials": 1000, "budget": 1_000_000}
MAX_RECORD_BYTES = 64 * 1024  # the experiment as JSON, rewritten into the store on every resume
MAX_RETRIES = 10


def mirror_bytes(exp: Experiment) -> int:
    """About the memory the results store's in-memory mirror needs for the whole budget (the
    mirror doubles as it grows: twice the rows' bytes)."""
    per_trial = 4 * exp.epochs + 64  # epoch_metric (f4) + metric, times, status, error, ...
    per_arch = 8 * len(exp.space.names) + 16 + exp.trials * per_trial
    return 2 * exp.budget * per_arch


def available_memory() -> int:
    """Bytes of physical memory available now (0 where the system does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def _check_types(spec: dict, source: str) -> None:
    for key in _POSITIVE_INTS:
        value = spec.get(key)
        if value is None and key == "max_pending":
            continue
        if key in spec and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise ExperimentError(f"{source}: field '{key}' must be a positive integer, got {value!r}; "
                                  f"e.g. {key}: {_EXAMPLES[key]}")
    _check_failure_fields(spec, source)
    if "seed" in spec and not isinstance(spec["seed"], int):
        raise ExperimentError(f"{source}: field 'seed' must be an integer, got {spec['seed']!r}")
    for key in ("data", "fixed"):
        if key in spec and not isinstance(spec[key] or {}, dict):
            raise ExperimentError(f"{source}: field '{key}' must be a mapping, got {spec[key]!r}")
        spec[key] = spec.get(key) or {}
    opt = spec.get("optimizer", {"name": "rbf"})
    if isinstance(opt, str):
        opt = {"name": opt}
    if not (isinstance(opt, dict) and isinstance(opt.get("name"), str)):
        raise ExperimentError(f"{source}: field 'optimizer' must name one, e.g. "
                              f"optimizer: {{name: rbf, n_initial: 10}}; got {opt!r}")
    if opt["name"].lower() not in OPTIMIZERS:
        raise ExperimentError(f"{source}: field 'optimizer': unknown optimizer {opt['name']!r}; "
                              f"choose one of: {', '.join(sorted(OPTIMIZERS))}")
    spec["optimizer"] = opt
    trial = spec.get("trial", "models.trial:run_trial")
    if not (isinstance(trial, str) and trial.count(":") == 1):
        raise ExperimentError(f"{source}: field 'trial' must be 'module:function', got {trial!r}; "
                              "e.g. trial: models.trial:run_trial")
    if not isinstance(spec.get("deterministic", False), bool):
        raise ExperimentError(f"{source}: field 'deterministic' must be true or false, "
                              f"got {spec['deterministic']!r}")
    _check_trial_limits(spec, source)
    if spec.get("stage", "broad") not in STAGES:
        raise ExperimentError(f"{source}: field 'stage' must be broad or focus, got {spec['stage']!r}")


def _check_failure_fields(spec: dict, source: str) -> None:
    """min_ok: 1..trials (or absent); fail_fast: an integer >= 0; penalty: a finite number."""
    min_ok, trials = spec.get("min_ok"), spec.get("trials", 5)
    if min_ok is not None and not (_is_int(min_ok) and 1 <= min_ok <= trials):
        raise ExperimentError(f"{source}: field 'min_ok' must be an integer from 1 to trials "
                              f"({trials}), got {min_ok!r}; e.g. min_ok: {min(2, trials)}")
    fail_fast = spec.get("fail_fast", 3)
    if not (_is_int(fail_fast) and fail_fast >= 0):
        raise ExperimentError(f"{source}: field 'fail_fast' must be an integer >= 0 (0 disables), "
                              f"got {fail_fast!r}; e.g. fail_fast: 3")
    penalty = spec.get("penalty")
    if penalty is not None and not (isinstance(penalty, (int, float)) and not isinstance(penalty, bool)
                                    and math.isfinite(penalty)):
        raise ExperimentError(f"{source}: field 'penalty' must be a finite number, got {penalty!r}; "
                              "e.g. penalty: 10.0, or leave it out to derive it from the results")


def _check_trial_limits(spec: dict, source: str) -> None:
    """trial_timeout: a positive number of seconds (or absent); retries: an integer 0..10."""
    timeout = spec.get("trial_timeout")
    if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                                    and math.isfinite(timeout) and timeout > 0):
        raise ExperimentError(f"{source}: field 'trial_timeout' must be a positive number of "
                              f"seconds, got {timeout!r}; e.g. trial_timeout: 3600")
    retries = spec.get("retries", 1)
    if not (_is_int(retries) and 0 <= retries <= MAX_RETRIES):
        raise ExperimentError(f"{source}: field 'retries' must be an integer from 0 to "
                              f"{MAX_RETRIES}, got {retries!r}; e.g. retries: 1")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_EXAMPLES = {"epochs": 20, "trials": 5, "budget": 100, "max_pending": 10}


def effective_min_ok(experiment: Mapping) -> int:
    """The experiment's ``min_ok``: as set, else 2 when it runs two or more trials, else 1."""
    if experiment.get("min_ok"):
        return int(experiment["min_ok"])
    return 2 if int(experiment.get("trials", 1)) >= 2 else 1


# ----- the ``stages:`` field (running them is orchestrator.search.stages) -------------------

STAGE_KEYS = ("name", "epochs", "budget", "optimizer", "max_pending", "focus", "space")
DEFAULT_FOCUS = {"eps": 2}


def _positive_int(stage: dict, key: str, where: str) -> int:
    value = stage.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExperimentError(f"{where}: '{key}' must be a positive integer, got {value!r}; "
                              f"e.g. {{name: broad, epochs: 20, budget: 100}}")
    return value


def _focus_rule(rule: Any, where: str) -> dict:
    if not isinstance(rule, dict) or len(rule) != 1 or not ({"eps", "threshold"} & set(rule)):
        raise ExperimentError(f"{where}: 'focus' must be {{eps: N}} (lattice steps around the broad "
                              f"best) or {{threshold: T}} (ranges of broad architectures with mean "
                              f"metric below T, or 'Q%' for the best Q %), got {rule!r}")
    key, value = next(iter(rule.items()))
    if key == "threshold" and isinstance(value, str) and value.strip().endswith("%"):
        return {key: value.strip()}  # a quantile of the broad means, checked when derived
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (key == "eps" and value < 0):
        raise ExperimentError(f"{where}: focus '{key}' must be a finite number"
                              f"{' >= 0' if key == 'eps' else ''}, got {value!r}")
    return {key: value}


def parse_stages(stages: Any, source: str = "experiment") -> list[dict]:
    """Validate and normalise an experiment's ``stages`` list (broad first, then focus)."""
    if not isinstance(stages, list) or not 1 <= len(stages) <= len(STAGES):
        raise ExperimentError(f"{source}: field 'stages' must be a list of 1 or 2 stages, e.g. "
                              "[{name: broad, epochs: 20, budget: 100}, "
                              "{name: focus, epochs: 1000, budget: 70, focus: {eps: 2}}]")
    out = []
    for i, stage in enumerate(stages):
        where = f"{source}: stages[{i}]"
        if not isinstance(stage, dict):
            raise ExperimentError(f"{where}: expected a mapping like {{name: broad, epochs: 20, "
                                  f"budget: 100}}, got {stage!r}")
        unknown = sorted(set(stage) - set(STAGE_KEYS))
        if unknown:
            raise ExperimentError(f"{where}: unknown key '{unknown[0]}'; known: {', '.join(STAGE_KEYS)}")
        if stage.get("name") != STAGES[i]:
            raise ExperimentError(f"{where}: 'name' must be {STAGES[i]!r} (stages run in the order "
                                  f"{', '.join(STAGES)}), got {stage.get('name')!r}")
        opt = stage.get("optimizer")
        if isinstance(opt, str):
            opt = {"name": opt}
        if opt is not None and not (isinstance(opt, dict) and isinstance(opt.get("name"), str)):
            raise ExperimentError(f"{where}: 'optimizer' must name one, e.g. {{name: rbf, n_initial: 5}}")
        max_pending = stage.get("max_pending")
        norm = {"name": stage["name"], "epochs": _positive_int(stage, "epochs", where),
                "budget": _positive_int(stage, "budget", where), "optimizer": opt,
                "max_pending": None if max_pending is None else _positive_int(stage, "max_pending", where),
                "focus": None, "space": None}
        if i > 0:
            norm["focus"] = _focus_rule(stage.get("focus") or DEFAULT_FOCUS, where)
        elif stage.get("focus") is not None:
            raise ExperimentError(f"{where}: the broad stage searches the whole space; move 'focus' "
                                  "to the focus stage")
        if stage.get("space") is not None:
            try:
                norm["space"] = SearchSpace(stage["space"]).to_dict()
            except SpaceError as err:
                raise ExperimentError(f"{where}: 'space': {err}") from None
        out.append(norm)
    return out


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentError(f"{path}: no such experiment file")
    try:
        spec = parse_yaml(read_text(path), path)
    except YamlInputError as err:
        raise ExperimentError(str(err)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ExperimentError(f"{path}: malformed YAML{where}: {problem}") from None
    exp = Experiment.from_dict(spec, source=str(path))
    if exp.name == "experiment":
        exp.name = path.stem
    return exp
