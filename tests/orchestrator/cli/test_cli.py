"""The `ganhpo` command: a real run on the embedded cluster, resume, and one-line errors."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr

from orchestrator.cli import main
from orchestrator.experiment import Experiment, ExperimentError, load_experiment
from orchestrator.store import DONE, read_store

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "hartmann.yaml"


def small_experiment(tmp_path, **changes) -> Path:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec.update(budget=6, trials=2, epochs=3, max_pending=2, data={"epoch_seconds": 0.0},
                optimizer={"name": "rbf", "n_initial": 4})
    spec.update(changes)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def snapshot_files(root: Path) -> dict:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ganhpo: error: ")
    return err


def test_run_resume_report_and_focus(tmp_path, capsys):
    exp = small_experiment(tmp_path)
    store = tmp_path / "s.zarr"
    assert main(["run", str(exp), "--store", str(store), "--workers", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "best architecture:" in out and "over 2 trials" in out
    assert "ganhpo monitor" in out
    snap = read_store(store)
    assert snap.n == 6 and (snap.status == DONE).all()
    # running again with a larger budget resumes: the 6 finished architectures are kept
    assert main(["run", str(exp), "--store", str(store), "--workers", "2", "--quiet",
                 "--budget", "8"]) == 0
    again = read_store(store)
    assert again.n == 8
    np.testing.assert_array_equal(again.metric[:6], snap.metric)
    assert main(["report", str(store), "--top", "2"]) == 0
    assert "8/8 architectures finished" in capsys.readouterr().out
    assert main(["focus", str(store), "--eps", "0.1", "-o", str(tmp_path / "f.yaml")]) == 0
    focus = load_experiment(tmp_path / "f.yaml")
    assert focus.stage == "focus" and focus.space.size < Experiment.from_dict(
        yaml.safe_load(exp.read_text())).space.size


@pytest.mark.parametrize("text, expected", [
    ("space: {x0: {lower: 1, upper: 3}\nbudget: 3", "malformed YAML at line"),
    ("space: {x0: {lower: 5, upper: 1, scale: 1}}", "parameter 'x0': `lower <= upper`"),
    ("space: {x0: [1, 2]}\nbugdet: 3", "unknown field 'bugdet'; did you mean 'budget'?"),
    ("space: {x0: [1, 2]}\nbudget: -3", "field 'budget' must be a positive integer"),
    ("budget: 3", "field 'space' is missing"),
    ("space: {x0: [1, 2]}\ntrial: no_colon", "field 'trial' must be 'module:function'"),
])
def test_bad_experiment_files_give_one_line_naming_the_file_and_field(tmp_path, capsys, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["run", str(path), "--store", str(tmp_path / "s.zarr"), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert str(path) in err and expected in err
    assert not (tmp_path / "s.zarr").exists()


def test_unknown_optimizer_is_refused_before_any_store_is_made(tmp_path, capsys):
    exp = small_experiment(tmp_path, optimizer={"name": "bayes"})
    assert main(["run", str(exp), "--store", str(tmp_path / "s.zarr"), "--quiet"]) == 2
    assert "unknown optimizer 'bayes'" in one_line_error(capsys)
    assert not (tmp_path / "s.zarr").exists()


def test_store_of_another_version_or_experiment_is_left_untouched(tmp_path, capsys):
    exp = small_experiment(tmp_path)
    store = tmp_path / "s.zarr"
    assert main(["run", str(exp), "--store", str(store), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    zarr.open_group(str(store), mode="r+").attrs["ganhpo_format"] = 7
    before = snapshot_files(store)
    assert main(["run", str(exp), "--store", str(store), "--quiet"]) == 2
    assert "store format 7, newer than this ganhpo" in one_line_error(capsys)
    assert snapshot_files(store) == before

    zarr.open_group(str(store), mode="r+").attrs["ganhpo_format"] = 1
    other = small_experiment(tmp_path, epochs=5)
    before = snapshot_files(store)
    assert main(["run", str(other), "--store", str(store), "--quiet"]) == 2
    assert "field 'epochs' is 3 there and 5 here" in one_line_error(capsys)
    assert snapshot_files(store) == before


def test_a_path_that_is_not_a_store(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "notes" / "x.yaml")
    assert main(["report", str(tmp_path / "notes")]) == 2
    assert "is not a ganhpo results store" in one_line_error(capsys)


def test_experiment_from_dict_names_the_source():
    with pytest.raises(ExperimentError, match=r"^lab.yaml: field 'fixed': \['x'\] are also in 'space'"):
        Experiment.from_dict({"space": {"x": [1, 2]}, "fixed": {"x": 1}}, source="lab.yaml")


def test_data_make_takes_its_options_from_the_models_and_help_lists_it(tmp_path, capsys):
    for argv, listed in ((["--help"], "data"), (["data", "--help"], "make")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0 and f"    {listed} " in capsys.readouterr().out
    out = tmp_path / "h.npz"  # options before the family reach models.data.make unparsed
    assert main(["data", "make", "--events", "30", "--quiet", "hadronization", "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"ganhpo: wrote 30 hadronization events to {out}\n"
    assert out.is_file()
    with pytest.raises(SystemExit) as stop:
        main(["report", "s.zarr", "--nope"])
    assert stop.value.code == 2 and "unrecognized arguments: --nope" in capsys.readouterr().err


def test_python_dash_m_orchestrator_cli_is_the_ganhpo_command():
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "data", "make", "--help"],
                         capture_output=True, text=True, cwd=EXAMPLE.parents[1])
    assert out.returncode == 0 and "usage: ganhpo data make" in out.stdout, out.stderr
    assert "--events N" in out.stdout and "(default: 100000)" in out.stdout
