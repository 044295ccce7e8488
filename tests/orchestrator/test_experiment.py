"""An Experiment checks itself at construction exactly as an experiment file is checked."""

import dataclasses

import pytest

from orchestrator.experiment import Experiment, ExperimentError, load_experiment

SPACE = {"x": {"lower": 0, "upper": 10, "scale": 0.1}}


@pytest.mark.parametrize("fields, message", [
    (dict(budget=-3, trials=0, epochs=0, optimizer={"name": "nope"}), "field 'epochs' must be a positive integer, got 0"),
    (dict(budget=-3), "field 'budget' must be a positive integer, got -3"),
    (dict(trials=0), "field 'trials' must be a positive integer, got 0"),
    (dict(optimizer={"name": "nope"}), "field 'optimizer': unknown optimizer 'nope'; choose one of:"),
    (dict(trial="no_colon"), "field 'trial' must be 'module:function'"),
    (dict(min_ok=4, trials=3), "field 'min_ok' must be an integer from 1 to trials (3)"),
    (dict(fixed={"x": 1.0}), "field 'fixed': ['x'] are also in 'space'"),
    (dict(stage="middle"), "field 'stage' must be broad or focus"),
    (dict(stages=[{"name": "focus", "epochs": 2, "budget": 3}]), "stages[0]: 'name' must be 'broad'"),
])
def test_construction_rejects_what_a_file_would(fields, message):
    with pytest.raises(ExperimentError, match="^experiment: ") as python:
        Experiment(SPACE, **fields)
    assert message in str(python.value)
    with pytest.raises(ExperimentError) as yaml_like:
        Experiment.from_dict({"space": SPACE, **fields}, source="exp.yaml")
    assert str(yaml_like.value) == str(python.value).replace("experiment: ", "exp.yaml: ", 1)


def test_a_bad_space_names_the_field():
    with pytest.raises(ExperimentError, match=r"^experiment: field 'space': parameter 'x'"):
        Experiment({"x": {"lower": 5, "upper": 1}})


def test_construction_normalises_as_from_dict_does():
    exp = Experiment(SPACE, optimizer="lhs", data=None, fixed=None,
                     stages=[{"name": "broad", "epochs": 3, "budget": 4}])
    assert exp.optimizer == {"name": "lhs"} and exp.data == {} and exp.fixed == {}
    assert (exp.epochs, exp.budget) == (3, 4)
    assert exp == Experiment.from_dict({"space": SPACE, "optimizer": "lhs",
                                        "stages": [{"name": "broad", "epochs": 3, "budget": 4}]})
    with pytest.raises(ExperimentError, match="field 'trials' must be a positive integer"):
        dataclasses.replace(exp, trials=0)  # every way of making one is checked


# ----- issue 18 item 7: everything sized and read strictly before any store exists -----

SPACE_LINE = "space: {x: {lower: 0, upper: 4, scale: 1}}\n"


@pytest.mark.parametrize("text, message", [
    (SPACE_LINE + "budget: 3\nbudget: 4\n", "duplicate key 'budget' at line 3 (first at line 2)"),
    (SPACE_LINE + "epochs: 100000000\n", "field 'epochs' is 100000000, above the limit 100,000"),
    (SPACE_LINE + "trials: 10000000\n", "field 'trials' is 10000000, above the limit 1,000"),
    (SPACE_LINE + "budget: 100000\ntrials: 100\nepochs: 10000\n",
     "budget 100000 x trials 100 x epochs 10000 needs about"),
    (SPACE_LINE + "data: &d\n  a: *d\n", "a YAML alias refers to the value that contains it"),
    (SPACE_LINE + "data:\n  a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
        for i in range(8)), "the YAML expands to more than 100,000 values"),
    (SPACE_LINE + "data:\n  a: &a [" + ",".join(["x" * 20] * 300) + "]\n  b: [" +
     ", ".join(["*a"] * 14) + "]\n", "bytes as JSON, above the limit 65,536"),
    (SPACE_LINE + "trial_timeout: 0\n", "field 'trial_timeout' must be a positive number"),
    (SPACE_LINE + "retries: -1\n", "field 'retries' must be an integer from 0 to 10, got -1"),
])
def test_bad_input_is_refused_in_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(ExperimentError) as err:
        load_experiment(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_non_utf8_file_is_named_with_the_fix(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_bytes(SPACE_LINE.encode() + b"name: caf\xe9\n")
    with pytest.raises(ExperimentError, match=r"exp.yaml: not UTF-8 text \(byte 0xe9 at offset "
                                              r"\d+\); save the file as UTF-8$"):
        load_experiment(path)


def test_merge_keys_and_plain_anchors_still_load(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(SPACE_LINE + "base: &b {noise: 0.1}\n".replace("base", "fixed")
                    + "data: {<<: *b, noise: 0.2}\n")
    exp = load_experiment(path)
    assert exp.data == {"noise": 0.2} and exp.fixed == {"noise": 0.1}


def test_resume_may_change_trial_timeout_and_retries_with_one_line_saying_so(tmp_path, capsys):
    from orchestrator.search.setup import open_store, validate
    from orchestrator.store import read_attrs

    def exp(**changes):
        return Experiment(SPACE, **{"trial": "orchestrator.objectives:noisy_hartmann", "budget": 2,
                                    "trials": 1, "epochs": 1, **changes})

    path = str(tmp_path / "s.zarr")
    open_store(exp(trial_timeout=600), path).close()
    longer = exp(trial_timeout=3600, retries=2)
    validate(longer, path)  # the CLI checks first, then opens: one note, not two
    open_store(longer, path).close()
    out = capsys.readouterr().out
    assert out.splitlines() == [f"ganhpo: resuming {path} with trial_timeout 600 -> 3600, retries "
                                "1 -> 2 (operational fields: the new values apply to the trials "
                                "run from now on)"]
    stored = read_attrs(path)["experiment"]
    assert (stored["trial_timeout"], stored["retries"]) == (3600, 2)  # recorded for the next resume
    open_store(exp(trial_timeout=3600, retries=2), path).close()
    assert capsys.readouterr().out == ""  # nothing changed: nothing said
    with pytest.raises(ExperimentError, match="field 'epochs' is 1 there and 2 here"):
        exp(epochs=2).check_resumable(stored, path)  # what defines the results still must match
