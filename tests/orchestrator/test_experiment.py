"""An Experiment checks itself at construction exactly as an experiment file is checked."""

import dataclasses

import pytest

from orchestrator.experiment import Experiment, ExperimentError

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
