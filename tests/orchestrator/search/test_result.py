"""The end-of-run summary when every trial failed names the most common error (e.g. a refused data file)."""

import numpy as np

from orchestrator.experiment import Experiment
from orchestrator.search.result import best_of
from orchestrator.store import FAILED, ResultsStore


def test_summary_of_a_search_whose_trials_all_failed_shows_the_error(tmp_path):
    exp = Experiment.from_dict({"space": {"x": {"lower": 1, "upper": 4, "scale": 1}}, "trials": 2})
    store = ResultsStore.create(tmp_path / "s.zarr", exp.to_dict(), exp.space.names, 2, 1)
    a = store.add_architecture(np.array([0.5]))
    for t in range(2):
        store.set("status", (a, t), FAILED)
        store.set_error(a, t, "ValueError: dimuon data file d.root: TTree 'events': 3 of 50 events "
                              "have NaN/inf values (columns pt1); refused\n  File ...")
    store.flush()
    summary = best_of(str(tmp_path / "s.zarr"), exp, 0.0, []).summary()
    assert summary == (f"no architecture finished successfully; see {tmp_path / 's.zarr'}\n"
                       "  2 x ValueError: dimuon data file d.root: TTree 'events': 3 of 50 events "
                       "have NaN/inf values (columns pt1); refused")
