"""ROOT TTrees in and out with uproot: named columns, expressions of branches, one-line errors.

A family maps its features to branch names or expressions of them (``columns``); uproot's
own expression language evaluates them (``tree.arrays(expressions, cut=...)``), reading only
the branches they use. A column is *flat* (one number per event) or a *collection* (a jagged
branch such as ``Muon_pt[nMuon]``, or a fixed-size array); ``leading`` takes the first ``n``
entries of a collection ordered by one of its columns, dropping events with fewer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

NONFINITE = ("refuse", "drop")


def _uproot():
    import uproot

    return uproot


def _trees(file) -> list[str]:
    return sorted({k.split(";")[0] for k, c in file.classnames().items() if c == "TTree"})


def open_tree(path: str | Path, tree: str | None, what: str):
    """The TTree ``tree`` of a ROOT file (the only one when ``tree`` is None); one-line errors."""
    uproot = _uproot()
    if not Path(path).is_file():
        raise ValueError(f"{what} {path}: no such file")
    try:
        file = uproot.open(path)
    except Exception as err:  # noqa: BLE001 - uproot raises many kinds for a non-ROOT file
        raise ValueError(f"{what} {path}: not a readable ROOT file ({type(err).__name__}: {err})") from None
    trees = _trees(file)
    if tree is None:
        if len(trees) != 1:
            raise ValueError(f"{what} {path}: {len(trees)} TTrees ({', '.join(trees) or 'none'}); "
                             "name one with data: {tree: NAME}")
        tree = trees[0]
    if tree not in trees:
        close = difflib.get_close_matches(tree, trees, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"{what} {path}: no TTree '{tree}'; the file has TTrees: "
                         f"{', '.join(trees) or 'none'}{hint}")
    return file[tree]


def _branch_list(names: list[str], missing: str) -> str:
    close = difflib.get_close_matches(missing, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    return f"{hint}branches there: {shown}"


def _check_expression(tree, expr: str, label: str, where: str) -> None:
    """Fail with the unknown branch (and the tree's branches) or the syntax error of ``expr``."""
    uproot = _uproot()
    keys = tree.keys()
    try:
        uproot.language.python.python_language.free_symbols(expr, keys, {}, "", tree.object_path)
    except uproot.KeyInFileError as err:
        raise ValueError(f"{where}: {label} = {expr!r} uses branch {err.key!r}, which the tree "
                         f"lacks; {_branch_list(keys, str(err.key))}") from None
    except SyntaxError as err:
        raise ValueError(f"{where}: {label} = {expr!r} is not an expression ({err.msg}); "
                         "use a branch name or e.g. 'Muon_pt / 1000'") from None


def check_columns(path: str | Path, tree: str | None, columns: Mapping[str, str], what: str,
                  cut: str | None = None) -> tuple:
    """Open the tree and check every expression's branches and syntax, reading no events."""
    t = open_tree(path, tree, what)
    where = f"{what} {path}: TTree '{t.name}'"
    for name, expr in columns.items():
        if not isinstance(expr, str):
            raise ValueError(f"{where}: column {name!r} = {expr!r}; expected a branch name or an "
                             "expression string")
        _check_expression(t, expr, f"column {name!r}", where)
    if cut is not None:
        _check_expression(t, str(cut), "cut", where)
    return t, where


def check_event_file(family: str, path: str | Path, tree: str | None, columns: Mapping | None,
                     cut: str | None, nonfinite: str, default_columns: Mapping,
                     check_mapping) -> None:
    """Fail fast, reading no events: the file, the tree, the columns' names and branches.

    ``check_mapping(path, columns)`` is the family's own check of which features are mapped.
    """
    path = Path(path)
    what = f"{family} data file {path}"
    if nonfinite not in NONFINITE:
        raise ValueError(f"{what}: nonfinite={nonfinite!r}; use 'refuse' or 'drop'")
    if path.suffix != ".root":
        if columns or tree or cut:
            raise ValueError(f"{what}: tree/columns/cut apply to .root files only")
        if not path.is_file():
            raise ValueError(f"{what}: no such file")
        return
    columns = dict(columns or default_columns)
    check_mapping(path, columns)
    check_columns(path, tree, columns, f"{family} data file", cut)


def read_columns(path: str | Path, tree: str | None, columns: Mapping[str, str], what: str,
                 cut: str | None = None) -> tuple[dict, str]:
    """Evaluate each column's expression on the tree (after ``cut``); awkward arrays by name."""
    t, where = check_columns(path, tree, columns, what, cut)
    exprs = sorted(set(columns.values()))
    try:
        arrays = t.arrays(exprs, cut=cut, library="ak")
    except Exception as err:  # noqa: BLE001 - evaluation errors of user expressions
        raise ValueError(f"{where}: evaluating columns {exprs} failed: {type(err).__name__}: {err}") from None
    return {name: arrays[expr] for name, expr in columns.items()}, where


def _numeric(name: str, array, where: str) -> None:
    import awkward as ak

    kind = np.asarray(ak.flatten(array, axis=None)).dtype.kind
    if kind not in "fiub":
        raise ValueError(f"{where}: column {name!r} has type {array.type}; expected numbers")


def flat(arrays: Mapping, names: Iterable[str], where: str) -> np.ndarray:
    """(N, len(names)) float64 from columns with one number per event; else a shape error."""
    out = []
    for name in names:
        a = arrays[name]
        _numeric(name, a, where)
        if a.ndim != 1:
            raise ValueError(f"{where}: column {name!r} has type {a.type} (a collection per "
                             "event); expected one number per event")
        out.append(np.asarray(a, np.float64))
    return np.column_stack(out) if out else np.empty((0, 0))


def leading(arrays: Mapping, names: list[str], n: int, by: np.ndarray | None,
            where: str) -> tuple[np.ndarray, np.ndarray]:
    """(N', n, len(names)) of each event's ``n`` highest-``by`` entries, and the kept-event mask.

    ``by`` is a per-entry key array with the collections' structure (None: the first column).
    Flat columns with the suffixes 1..n are collections written out; the caller stacks those.
    """
    import awkward as ak

    cols = []
    for name in names:
        a = arrays[name]
        _numeric(name, a, where)
        if a.ndim != 2:
            raise ValueError(f"{where}: column {name!r} has type {a.type}; expected a collection "
                             "per event (e.g. a jagged branch Muon_pt[nMuon])")
        cols.append(a)
    counts = ak.num(cols[0], axis=1)
    for name, a in zip(names[1:], cols[1:]):
        if not ak.all(ak.num(a, axis=1) == counts):
            raise ValueError(f"{where}: columns {names[0]!r} and {name!r} have different numbers "
                             "of entries per event; map them to the same collection")
    keep = np.asarray(counts >= n)
    key = cols[0] if by is None else by
    order = ak.argsort(key, axis=1, ascending=False)[keep][:, :n]
    picked = [np.asarray(ak.to_numpy(ak.to_regular(a[keep][order], axis=1)), np.float64) for a in cols]
    return np.stack(picked, axis=-1), keep


def finite_rows(table: np.ndarray, policy: str, where: str, names: Iterable[str]) -> np.ndarray:
    """``table`` without non-finite rows ('drop') or an error counting them ('refuse')."""
    if policy not in NONFINITE:
        raise ValueError(f"{where}: nonfinite={policy!r}; use 'refuse' (the default) or 'drop'")
    bad = ~np.all(np.isfinite(table.reshape(len(table), -1)), axis=1)
    n_bad = int(bad.sum())
    if n_bad and policy == "refuse":
        cols = [n for n, b in zip(names, ~np.all(np.isfinite(table.reshape(len(table), -1)), axis=0)) if b]
        raise ValueError(f"{where}: {n_bad} of {len(table)} events have NaN/inf values (columns "
                         f"{', '.join(cols)}); refused; fix the file or set data: {{nonfinite: drop}} "
                         "to drop those events")
    return table[~bad]


def write_tree(path: str | Path, tree: str, chunks: Iterable[dict]) -> Path:
    """Write dicts of numpy arrays and awkward records (-> ``nName``, ``Name_field``) as a TTree."""
    uproot = _uproot()
    path = Path(path)
    with uproot.recreate(path) as f:
        out = None
        for chunk in chunks:
            if out is None:
                types = {k: (v.type if hasattr(v, "layout") else v.dtype) for k, v in chunk.items()}
                out = f.mktree(tree, types)
            out.extend(chunk)
    return path
