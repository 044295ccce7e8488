"""Reading a finished (or running) search: summaries, figures, sensitivity, Pareto front, focus."""

from orchestrator.analysis import figures
from orchestrator.analysis.focus import derive_focus_space, focus_experiment
from orchestrator.analysis.pareto import non_dominated, pareto, select_best
from orchestrator.analysis.sensitivity import sensitivity
from orchestrator.analysis.summary import failures, report, top_architectures

__all__ = ["derive_focus_space", "failures", "figures", "focus_experiment", "non_dominated", "pareto",
           "report", "select_best", "sensitivity", "top_architectures", "write_report"]


def write_report(*args, **kwargs):
    """Write the HTML report of a store (see orchestrator.analysis.html.write_report)."""
    from orchestrator.analysis.html import write_report as _write

    return _write(*args, **kwargs)
