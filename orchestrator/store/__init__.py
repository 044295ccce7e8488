"""The Zarr v3 results store: one writer (the driver), any number of read-only views.

``layout`` says what a store holds (format, trial states, arrays), ``writer`` is the single
writer (``ResultsStore``), ``view`` the one read-only view (``Snapshot``, ``read_store``),
``upgrade`` turns a format-1 store into format 2.
"""

from orchestrator.store.layout import (
    ARRAY_NAMES,
    DONE,
    FAILED,
    FINISHED,
    FORMAT_VERSION,
    PENDING,
    PRUNED,
    ROW_CHUNK,
    RUNNING,
    STAGES,
    STATUS_NAMES,
    StoreError,
    TrialState,
    is_finished,
)
from orchestrator.store.view import Snapshot, mean_std, rank, read_attrs, read_store, store_ready
from orchestrator.store.writer import ResultsStore

__all__ = ["ARRAY_NAMES", "DONE", "FAILED", "FINISHED", "FORMAT_VERSION", "PENDING", "PRUNED",
           "ROW_CHUNK", "RUNNING", "STAGES", "STATUS_NAMES", "ResultsStore", "Snapshot", "StoreError",
           "TrialState", "is_finished", "mean_std", "rank", "read_attrs", "read_store",
           "store_ready"]
