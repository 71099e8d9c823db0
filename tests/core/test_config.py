"""Configuration: defaults, user file, overrides, unknown keys."""

import pytest

from openastro.core.config import defaults_dict, load_config, parse_override, to_toml
from openastro.core.errors import ConfigError


def test_defaults_load_and_match_the_packaged_file():
    cfg = load_config()
    assert cfg.sim.seed == defaults_dict()["sim"]["seed"]
    assert cfg.photometry.aperture_fwhm > 0


def test_overrides_parse_toml_literals():
    assert parse_override("sim.nights=3") == {"sim": {"nights": 3}}
    assert parse_override("sim.sites=['A', 'B']") == {"sim": {"sites": ["A", "B"]}}
    assert parse_override("run.dask=local") == {"run": {"dask": "local"}}
    cfg = load_config(overrides=["sim.nights=3", "sim.defects.trail=0.5"])
    assert cfg.sim.nights == 3 and cfg.sim.defects.trail == 0.5


def test_user_file_then_overrides(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text("[sim]\nnights = 4\nseed = 7\n")
    cfg = load_config(path, ["sim.nights=5"])
    assert (cfg.sim.nights, cfg.sim.seed) == (5, 7)


def test_unknown_key_names_it_and_the_closest_valid_ones():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["sim.nigths=2"])
    assert "sim.nigths" in str(err.value) and "sim.nights" in str(err.value)
    with pytest.raises(ConfigError, match="unknown config key 'simm'"):
        load_config(overrides=["simm.nights=2"])


def test_bad_value_and_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="sim.nights"):
        load_config(overrides=["sim.nights='many'"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim\nnights=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_resolved_config_round_trips_through_toml(tmp_path):
    cfg = load_config(overrides=["sim.nights=2"])
    path = tmp_path / "resolved.toml"
    path.write_text(to_toml(cfg))
    assert load_config(path) == cfg


def test_config_show_cli(cli):
    code, out, _ = cli("config", "show", "--set", "sim.nights=9")
    assert code == 0 and "nights = 9" in out
    code, out, _ = cli("config", "show", "--json")
    assert code == 0 and '"seed"' in out
    code, _, err = cli("config", "show", "--set", "sim.nigths=9")
    assert code == 2 and "sim.nights" in err


@pytest.mark.parametrize("override,message", [
    ("sim.seed=-1", "'sim.seed': Input should be greater than or equal to 0 (got -1)"),
    ("sim.nights=1e9", "'sim.nights': Input should be less than or equal to 3660"),
    ("sim.cadence_min=inf", "'sim.cadence_min': Input should be a finite number"),
    ("photometry.back_size=-5", "'photometry.back_size': Input should be greater than or equal to 8"),
    ("report.n_variable_stars=-1", "'report.n_variable_stars': Input should be greater than or equal to 0"),
    ("run.dask_workers=-4", "'run.dask_workers': Input should be greater than or equal to 1"),
    ("run.dask_workers=0", "'run.dask_workers': Input should be greater than or equal to 1"),
    ("periods.fap_threshold=nan", "'periods.fap_threshold': Input should be a finite number"),
    ("vetting.seed=4294967296", "'vetting.seed': Input should be less than or equal to 4294967295"),
    ("run.dask=notanaddress", "'run.dask': must be '' (in-process), 'local'"),
    ("photometry.annulus_fwhm=[1.0, 2.0]", "'photometry': annulus_fwhm must be [inner, outer] with aperture_fwhm"),
])
def test_settings_out_of_range_name_the_key_and_the_range(override, message):
    with pytest.raises(ConfigError) as exc:
        load_config(overrides=[override])
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_scheduler_addresses_are_settings():
    for address in ("", "local", "tcp://127.0.0.1:8786", "sched.example.org:8786", "tls://[::1]:8786"):
        assert load_config(overrides=[f'run.dask="{address}"']).run.dask == address


def test_bad_setting_on_a_training_verb_says_the_key(cli, tmp_path):
    code, _, err = cli("train", "vetting", "--seed", "-1", "--workdir", tmp_path / "w")
    assert code == 2 and "vetting.seed" in err and "greater than or equal to 0" in err


def test_unreachable_scheduler_fails_before_any_simulation(cli, tmp_path):
    code, _, err = cli("run", "--workdir", tmp_path / "w", "--dask", "tcp://127.0.0.1:9")
    assert code == 2 and "cannot reach the Dask scheduler" in err
    assert not list((tmp_path / "w").glob("frames/*"))


def test_integers_too_long_for_python_are_one_line(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text("[sim]\nnights = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"'sim.nights'.*\(got '9{50}") as exc:
        load_config(overrides=["sim.nights=" + "9" * 5000])
    assert len(str(exc.value)) < 400  # the value is shown cut short, not all 5000 digits
