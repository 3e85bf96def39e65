"""Model sets as data: models/*.toml load into estimators; every mistake names the file and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sklearn.base import clone

from riskcast.errors import ConfigError
from riskcast.models.spec import _scan, describe_models, load_model_set, registry, resolve_model_set_path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
COLUMNS = {"full": ["a", "b", "c"], "history": ["a"]}
BASELINE = {"share": "share12", "sum": "sum12", "current": "current"}
HEAD = 'name = "t"\n[[models]]\nname = "climatology"\nmodel = "Climatology"\n'


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    p = tmp_path / "set.toml"
    p.write_text(head + textwrap.dedent(body))
    return p


def load(path, **kw):
    return load_model_set(path, COLUMNS, BASELINE, **kw)


def test_default_set_builds_every_model():
    missing = _scan()[1]
    if missing:
        pytest.skip(f"model modules not importable yet: {missing}")
    from riskcast.models.ensemble import Ensemble
    from riskcast.models.tuning import Tuned

    models = load("default", climatology_window=12)
    assert list(models) == [
        "climatology",
        "persistence",
        "zero_count",
        "last_value",
        "logistic_history",
        "logistic",
        "glm_negbin_history",
        "glm_negbin",
        "lgbm_history",
        "lgbm",
        "ensemble",
        "logistic_shrunk",
        "logistic_history_shrunk",
    ]  # part_only building blocks are not in the set
    assert (
        models["climatology"].get_params()["share_column"] == "share12" and models["climatology"].window == 12
    )
    assert models["persistence"].column == "current"
    assert isinstance(models["logistic"], Tuned) and models["logistic"].param == "C"
    assert models["logistic"].estimator.columns == ("a", "b", "c") and models["logistic"].estimator.C == 0.01
    assert models["logistic_history"].estimator.columns == ("a",)
    assert models["lgbm_history"].columns == ("a",)
    assert models["glm_negbin"].estimator.family == "negbin" and models["glm_negbin"].param == "alpha"
    assert models["glm_negbin_history"].estimator.columns == ("a",)
    ens = models["ensemble"]
    assert isinstance(ens, Ensemble) and ens.method == "none" and ens.calib_months == 12
    assert (
        models["logistic_shrunk"].half_horizon == 12.0 and models["logistic_shrunk"].share_column == "share12"
    )
    assert [n for n, _ in ens.members] == ["glm_negbin_fixed", "logistic_fixed"]
    assert clone(ens).get_params()["glm_negbin_fixed__columns"] == ("a", "b", "c")


def test_fast_set_and_name_resolution():
    assert resolve_model_set_path("default") == MODELS_DIR / "default.toml"
    models = load("fast")
    assert list(models) == [
        "climatology",
        "persistence",
        "logistic_history",
        "logistic",
        "logistic_shrunk",
        "logistic_history_shrunk",
    ]


def test_calibrated_and_ensemble_by_reference(tmp_path):
    p = write(
        tmp_path,
        """
        [[models]]
        name = "logistic"
        model = "LogisticCount"
        features = "full"
        [[models]]
        name = "logistic_cal"
        model = "Calibrated"
        base = "logistic"
        params = { method = "sigmoid", calib_months = 12 }
        [[models]]
        name = "ens"
        model = "Ensemble"
        members = ["climatology", "logistic_cal"]
        params = { method = "sigmoid" }
    """,
    )
    m = load(p)
    assert m["logistic_cal"].estimator.columns == ("a", "b", "c") and m["logistic_cal"].calib_months == 12
    assert m["ens"].get_params()["logistic_cal__estimator__columns"] == ("a", "b", "c")


def test_models_on_a_missing_column_list_are_dropped_with_a_warning(tmp_path):
    p = write(
        tmp_path,
        """
        [[models]]
        name = "logistic_history"
        model = "LogisticCount"
        features = "history"
        [[models]]
        name = "ens"
        model = "Ensemble"
        members = ["logistic_history"]
    """,
    )
    with pytest.warns(UserWarning) as rec:
        m = load_model_set(p, {"full": ["a"], "history": None}, BASELINE)
    assert list(m) == ["climatology"]
    messages = [str(w.message) for w in rec]
    assert any("'logistic_history' dropped: the run has no 'history' columns" in t for t in messages)
    assert any("'ens' dropped: members ['logistic_history'] were dropped" in t for t in messages)


@pytest.mark.parametrize(
    "body, key, message",
    [
        ('[[models]]\nname = "x"\nmodel = "Nope"\n', "models[1].model", "unknown model 'Nope'"),
        (
            '[[models]]\nname = "x"\nmodel = "LogisticCount"\nparams = { Cc = 1 }\n',
            "models[1].params.Cc",
            "LogisticCount has no parameter 'Cc'",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "LogisticCount"\nparams = { columns = ["a"] }\n',
            "models[1].params.columns",
            "use features",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "Ensemble"\nmembers = ["climatology", "ghost"]\n',
            "models[1].members[1]",
            "no model named 'ghost'",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "Calibrated"\nbase = "ghost"\n',
            "models[1].base",
            "no model named 'ghost'",
        ),
        ('[[models]]\nname = "x"\nmodel = "Calibrated"\n', "models[1].base", "Calibrated needs base"),
        (
            '[[models]]\nname = "x"\nmodel = "Calibrated"\nbase = "climatology"\nparams = { method = "beta" }\n',
            "models[1].params.method",
            "must be one of",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "LogisticCount"\nbase = "climatology"\n',
            "models[1].base",
            "takes no 'base'",
        ),
        (
            '[[models]]\nname = "climatology"\nmodel = "Persistence"\n',
            "models[1].name",
            "duplicate model name 'climatology'",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "LogisticCount"\nfeatures = "everything"\n',
            "models[1].features",
            "unknown column list 'everything'",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "Persistence"\nfeatures = "full"\n',
            "models[1].features",
            "reads no feature columns",
        ),
        (
            '[[models]]\nname = "x"\nmodel = "LogisticCount"\nfeaturs = "full"\n',
            "models[1].featurs",
            "unknown key",
        ),
        ('[[models]]\nmodel = "LogisticCount"\n', "models[1].name", "missing or empty 'name'"),
        ('colour = "red"\n', "models[0].colour", "unknown key"),  # lands in the climatology table
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path, body, key, message):
    p = write(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load(p)
    assert exc.value.file == str(p) and exc.value.key == key
    assert message in str(exc.value) and str(p) in str(exc.value)


def test_every_set_needs_climatology(tmp_path):
    p = write(tmp_path, "", head='name = "t"\n[[models]]\nname = "persistence"\nmodel = "Persistence"\n')
    with pytest.raises(ConfigError, match="needs a model named 'climatology'") as exc:
        load(p)
    assert exc.value.file == str(p) and exc.value.key == "models"


def test_the_run_sets_the_climatology_window(tmp_path):
    p = write(
        tmp_path,
        "",
        head='[[models]]\nname = "climatology"\nmodel = "Climatology"\nparams = { window = 6 }\n',
    )
    assert load(p)["climatology"].window == 6
    with pytest.raises(ConfigError, match="climatology_months") as exc:
        load(p, climatology_window=12)
    assert exc.value.key == "models[0].params.window"


def test_bad_files_and_names(tmp_path):
    with pytest.raises(ConfigError, match="no model set named 'nope'") as exc:
        load("nope")
    assert exc.value.key == "model.set"
    with pytest.raises(ConfigError, match="model set file not found"):
        load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[models]\n")
    with pytest.raises(ConfigError, match="not valid TOML") as exc:
        load(bad)
    assert exc.value.file == str(bad)
    top = tmp_path / "top.toml"
    top.write_text('colour = "red"\n' + HEAD)
    with pytest.raises(ConfigError, match="unknown key") as exc:
        load(top)
    assert exc.value.key == "colour"
    empty = tmp_path / "empty.toml"
    empty.write_text('name = "e"\n')
    with pytest.raises(ConfigError, match=r"at least one \[\[models\]\]"):
        load(empty)


def test_registry_and_describe_models():
    reg = registry()
    assert {"Climatology", "Persistence", "LogisticCount", "Calibrated", "Ensemble"} <= set(reg)
    rows = {r["model"]: r for r in describe_models()}
    assert "calib_months=24" in rows["Calibrated"]["params"] and rows["Ensemble"]["description"]
    assert rows["Climatology"]["module"] == "riskcast.models.baselines"
