"""The train / validation / test split every family shares: sizes, the default, checks, layout.

One rule for all families. ``validation`` events choose the best epoch; ``test`` events
(``data: {test: N}``) take part in neither training nor that choice: the trial evaluates the
chosen generator on them once, at the end. Rows are laid out ``[train | test | validation]``
(validation last, where it was before the test split existed), or ``[validation | test | train]``
over a shuffled order (CaloChallenge WGAN). ``test: 0`` gives exactly the pre-test split.

Default test size: the validation size when that leaves at least as many training events as
each held-out part (events >= 3 x validation), else 0 with a note. Synthetic event families
generate ``events`` training events plus both held-out parts, so their default is always the
validation size. Refused, with the fix: a validation or test share above half the events, and a
training set smaller than the validation or the test set (``split_sizes``).

Each family's own names and defaults for the held-out sizes live in ``FAMILY_SPLITS``, so the
pre-flight check (``models.trial.check_data``) and the trainer plan the same split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Event counts of one split and how they came about."""

    events: int
    train: int
    validation: int
    test: int
    test_default: bool = False
    note: str = ""

    def parts(self, array, held_out_first: bool = False) -> tuple:
        """(train, validation, test) rows of ``array``: [train | test | validation] or reversed order."""
        n, v, t = self.train, self.validation, self.test
        if held_out_first:
            return array[v + t:v + t + n], array[:v], array[v:v + t]
        return array[:n], array[n + t:n + t + v], array[n:n + t]

    def line(self) -> str:
        """E.g. '8000 train / 1000 validation / 1000 test (test: default, = validation)'."""
        why = f" ({self.note})" if self.note else (" (test: default, = validation)"
                                                   if self.test_default and self.test else "")
        return f"{self.train} train / {self.validation} validation / {self.test} test{why}"


def _count(value, field: str, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{what}: data.{field}={value!r}; must be a whole number of events >= "
                         f"{minimum}" + (" (0: no test split)" if field == "test" else ""))
    return int(value)


def split_sizes(events: int, validation: int, test: int | None, what: str, *,
                field: str = "validation", shown=None, fresh: bool = False) -> Split:
    """Plan the split of ``events`` rows; ``test=None``: the default. ``fresh``: the rows are
    generated for this split (synthetic), so the default test size is always the validation size.

    ``field``/``shown`` name the validation setting in errors (e.g. ``val_fraction`` = 0.6).
    """
    shown = validation if shown is None else shown
    if validation < 1:
        raise ValueError(f"{what}: data.{field}={shown!r} leaves no validation event; epoch "
                         f"selection needs at least 1 (the data has {events} events)")
    if test is None:
        test = validation if fresh or events >= 3 * validation else 0
        note = "" if test else (f"test: 0 by default, {events} events are too few for a test split "
                                f"of {validation} beside training; set data.test")
        default = True
    else:
        test, note, default = _count(test, "test", what, 0), "", False
    half = events // 2
    hint = max(1, events // 10)
    if validation > half and not fresh:  # fresh rows: the training check below says it
        fix = "0.1" if field.endswith("fraction") else hint
        raise ValueError(f"{what}: data.{field}={shown!r} holds out {validation} of the {events} "
                         f"events for validation, over half; use at most {half} (e.g. "
                         f"data.{field}: {fix})")
    if test > half and not fresh:
        raise ValueError(f"{what}: data.test={test} holds out over half of the {events} events; "
                         f"use at most {half} (e.g. data.test: {hint})")
    train = events - validation - test
    if train < max(validation, test, 1):
        held = f"data.{field}={shown!r}" + ("" if shown == validation else f" ({validation} events)")
        fix = (f"raise data.events to {max(validation, test)} or lower them" if fresh else
               f"lower them (e.g. data.{field}: {'0.1' if field.endswith('fraction') else hint}, "
               f"data.test: {hint})")
        raise ValueError(f"{what}: {held} and data.test={test} leave {train} of the {events} events "
                         f"for training, fewer than held out; {fix}")
    return Split(events, train, validation, test, default, note)


# Per family: the validation field, its default, and how the validation count follows from it.
FAMILY_SPLITS = {
    "hadronization": {"field": "validation", "default": 5000, "events": 100_000},
    "dimuon": {"field": "validation", "default": 5000, "events": 100_000},
    "calo3d": {"field": "val_events", "default": 500, "events": 2000},
    "calo_wgan": {"field": "val_fraction", "default": 0.3, "events": 5000},
}
EVENT_FAMILIES = ("hadronization", "dimuon")


def family_split(model: str, data: dict, events: int | None = None) -> Split:
    """The split of ``model``'s data; ``events`` rows read from a file, or None for synthetic data
    (event families: ``data.events`` training events plus both held-out parts are generated)."""
    spec = FAMILY_SPLITS[model]
    data = dict(data or {})
    value = data.get(spec["field"], spec["default"])
    what = f"{model} data"
    test = data.get("test")
    if model in EVENT_FAMILIES:
        n_val = _count(value, spec["field"], what, 1)
        if events is None:
            train = _count(data.get("events", spec["events"]), "events", what, 1)
            n_test = n_val if test is None else _count(test, "test", what, 0)
            return split_sizes(train + n_val + n_test, n_val, test, what, fresh=True)
        return split_sizes(int(events), n_val, test, what)
    n = int(data.get("events", spec["events"]) if events is None else events)
    if model == "calo3d":
        n_val = min(_count(value, spec["field"], what, 1), n // 5)   # capped at a fifth, as before
    else:
        if not isinstance(value, int | float) or not 0 < float(value) < 1:
            raise ValueError(f"{what}: data.val_fraction={value!r}; must be a fraction in (0, 1), "
                             "e.g. 0.3")
        n_val = max(1, int(n * float(value)))
    return split_sizes(n, n_val, test, what, field=spec["field"], shown=value)
