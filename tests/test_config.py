from __future__ import annotations

import pytest

from riskcast.config import config_hash, default_config, load_config
from riskcast.errors import ConfigError

MINIMAL = """
name = "t"
[inputs.ev]
kind = "events"
format = "acled_hdx"
path = "events.csv"
"""


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_minimal_config_gets_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.unit == "admin1" and cfg.backtest.horizons == (1, 3, 6, 12)
    assert "Battles" in cfg.target.event_types


def test_unknown_key_names_file_and_key(tmp_path):
    p = write(tmp_path, MINIMAL + "\n[backtest]\nhorizon = [1]\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value) == f"{p}, key 'backtest.horizon': unknown key"


def test_wrong_value_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'unit'"):
        load_config(write(tmp_path, 'unit = "admin7"\n' + MINIMAL))


def test_dotted_overrides(tmp_path):
    cfg = load_config(
        write(tmp_path, MINIMAL),
        ["inputs.ev.path=other.csv", "unit=admin2", "backtest.horizons=[1, 2]", "seed=7"],
    )
    assert str(cfg.inputs["ev"].path) == "other.csv" and cfg.unit == "admin2"
    assert cfg.backtest.horizons == (1, 2) and cfg.seed == 7


def test_override_of_unknown_key_fails(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'backtest.nope': unknown key"):
        load_config(write(tmp_path, MINIMAL), ["backtest.nope=3"])


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "name = = 3"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_config_hash_changes_with_settings():
    a, b = default_config(), default_config(["seed=1"])
    assert config_hash(a) == config_hash(default_config()) != config_hash(b)


def test_prio_grid_runs_default_to_the_grid_model_set_and_keep_an_explicit_one():
    grid = default_config(["unit=priogrid"])
    assert grid.model.set == "grid" and grid.backtest.ablation_model == "lgbm"
    assert grid.model.intensity_models == ("lgbm", "lgbm_history") and grid.compute.panel == "auto"
    chosen = default_config(["unit=priogrid", 'model.set="fast"', 'backtest.ablation_model="logistic"'])
    assert chosen.model.set == "fast" and chosen.backtest.ablation_model == "logistic"
    assert default_config([]).model.set == "default"
