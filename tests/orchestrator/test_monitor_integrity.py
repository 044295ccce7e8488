"""The monitor never shows a damaged store as data: one banner line naming the damage and the
repair; after ``ganhpo repair`` the page shows the store again. Real stores, real damage."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.monitor.data import StoreReader
from orchestrator.monitor.page import Page
from orchestrator.store import DONE, ResultsStore
from orchestrator.store.integrity import StoreDamaged
from orchestrator.store.repair import repair_store
from tests.orchestrator.store.test_integrity import (
    TRIALS,
    _chunk,
    _damage_flipped,
    _damage_metric_chunk,
    _damage_metric_json,
    _damage_status_chunk,
    _damage_truncated,
    _store,
)


def _nan_metric(path):  # what an interrupted flush of an older ganhpo committed
    store = ResultsStore.open(path)
    store.set("metric", (5, 1), np.nan)
    store.flush()
    store.close()


def _shown(page: Page) -> bool:
    return bool(page.header.root.visible and page.body.visible)


@pytest.mark.parametrize("damage, what", [
    (_damage_metric_json, "metric/zarr.json missing"),
    (_damage_status_chunk, "status: 1 chunk missing (rows 128-129)"),
    (_damage_metric_chunk, "metric: 1 chunk missing (rows 0-127)"),  # rows the reader cached
    (_damage_truncated, "metric: chunk rows 128-129 does not decode"),
    (_damage_flipped, "status: chunk rows 0-127 does not decode"),  # cached, then rewritten
    (_nan_metric, "1 done trials have no finite metric (first: architecture 5, trial 1)"),
])
def test_a_damaged_store_is_a_banner_never_data_and_repair_brings_it_back(tmp_path, damage, what):
    path = _store(tmp_path / "s.zarr")
    reader = StoreReader(path)
    page = Page(reader)
    page.layout()
    page.refresh()
    assert page.header.values["archs"] == 130 and _shown(page) and page.problem.text == ""
    damage(path)
    with pytest.raises(StoreDamaged) as err:
        reader.read()
    assert what in str(err.value) and f"ganhpo repair {path}" in str(err.value)
    assert "\n" not in str(err.value)
    page.refresh()
    assert what in page.problem.text and f"ganhpo repair {path}" in page.problem.text
    assert not _shown(page)  # nothing of the store on the page, only the banner
    for component in page.components:  # every source emptied: nothing even in hidden models
        assert all(len(v) == 0 for v in component.source.data.values()), component
    assert page.header.root.text == ""
    page.refresh()  # still damaged: still the banner, the same line
    assert what in page.problem.text and not _shown(page)
    repair_store(path)
    page.refresh()
    assert page.problem.text == "" and _shown(page)
    assert page.header.values["archs"] == 130
    snap = reader.read()
    done = snap.status == DONE
    assert np.isfinite(snap.metric[done]).all()  # the re-queued rows are pending, not shown done
    expect = np.arange(130)[:, None] + np.arange(TRIALS)[None] / 10
    assert np.allclose(snap.metric[done], expect[done])


def test_an_unchanged_store_is_decoded_once_and_a_changed_chunk_again(tmp_path, monkeypatch):
    import zarr.codecs

    path = _store(tmp_path / "s.zarr")
    reader = StoreReader(path)
    reader.read()
    decoded = []
    real = zarr.codecs.ZstdCodec._decode_single

    async def counting(self, data, spec):
        decoded.append(1)
        return await real(self, data, spec)

    monkeypatch.setattr(zarr.codecs.ZstdCodec, "_decode_single", counting)
    reader.read()
    steady = len(decoded)  # the last, partly filled chunk of each array read: 128 rows cached
    assert 0 < steady <= 12
    decoded.clear()
    chunk = _chunk(path, "metric", 0)  # a rewrite of a cached chunk (as a repair would)
    chunk.write_bytes(chunk.read_bytes())
    reader.read()
    assert len(decoded) > steady  # read again from chunk 0: every array, both chunks
