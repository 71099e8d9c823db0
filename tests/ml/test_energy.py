"""The energy meter: the CPU-time estimate, RAPL reading on a sysfs-shaped folder, labels, MLflow logging."""

from __future__ import annotations

import importlib.util

import pytest

from openastro.core.errors import ConfigError
from openastro.ml.energy import (
    JOULES_PER_KWH,
    EnergyMeter,
    EnergyReport,
    choose_method,
    cpu_seconds,
    log_energy,
    rapl_joules,
    rapl_zones,
    read_rapl_uj,
)


def busy(cpu: float = 0.05) -> None:
    """Burn at least `cpu` seconds of this process's CPU time (measured by CPU time, not by the clock)."""
    start, x = cpu_seconds(), 0
    while cpu_seconds() - start < cpu:
        x += sum(i * i for i in range(10_000))


def test_estimate_is_cpu_time_times_power_per_core():
    with EnergyMeter(carbon_intensity_g_per_kwh=300.0, tdp_w_per_core=12.0, prefer="estimate") as meter:
        busy()
    r = meter.report
    assert r.method == "estimate" and r.is_estimate and r.power_w == 12.0
    assert r.cpu_seconds >= 0.05 and r.energy_kwh > 0 and r.wall_seconds > 0
    expected_joules = r.cpu_seconds * 12.0 + r.gpu_power_w * r.wall_seconds
    assert r.energy_kwh == pytest.approx(expected_joules / JOULES_PER_KWH)
    assert r.co2_kg == pytest.approx(r.energy_kwh * 300.0 / 1000.0)
    assert r.to_dict()["method"] == "estimate" and set(r.to_dict()) >= {"energy_kwh", "co2_kg", "is_estimate"}


def test_default_meter_estimates_when_nothing_can_measure():
    if importlib.util.find_spec("codecarbon") is not None or rapl_zones():
        pytest.skip("codecarbon is installed or RAPL is readable here: the default meter uses them")
    with EnergyMeter() as meter:
        busy()
    r = meter.report
    assert r.method == "estimate" and r.is_estimate and r.power_w == 10.0
    assert r.carbon_intensity_g_per_kwh == 475.0 and r.co2_kg == pytest.approx(r.energy_kwh * 0.475)


def test_codecarbon_when_installed():
    pytest.importorskip("codecarbon")
    with EnergyMeter(prefer="codecarbon") as meter:
        busy()
    r = meter.report
    assert r.method == "codecarbon" and r.energy_kwh > 0 and r.cpu_seconds >= 0.05
    # without RAPL, codecarbon models CPU power from load and TDP: an estimate too
    assert r.is_estimate == (not rapl_zones()) and r.co2_kg == pytest.approx(r.energy_kwh * 0.475)


def test_rapl_zones_and_counter_wrap(tmp_path):
    for zone, energy in (("intel-rapl:0", 5_000_000), ("intel-rapl:0:0", 1_000), ("intel-rapl:1", 0)):
        (tmp_path / zone).mkdir()
        (tmp_path / zone / "energy_uj").write_text(f"{energy}\n")
        (tmp_path / zone / "max_energy_range_uj").write_text("10000000\n")
    # the sub-zone (core) is inside its package; a zone reading 0 is taken as unreadable
    assert [z.name for z in rapl_zones(tmp_path)] == ["intel-rapl:0"]
    assert read_rapl_uj(tmp_path) == [(5_000_000, 10_000_000)]
    assert rapl_joules([(9_000_000, 10_000_000)], [(1_000_000, 10_000_000)]) == pytest.approx(2.0)
    assert rapl_zones(tmp_path / "missing") == []


def test_method_choice_and_bad_preference():
    assert choose_method("estimate") == "estimate"
    assert choose_method("rapl") == ("rapl" if rapl_zones() else "estimate")
    with pytest.raises(ConfigError, match="prefer"):
        EnergyMeter(prefer="wattmeter")


def test_log_energy_writes_metrics_and_tags_to_the_run(tmp_path):
    from mlflow.tracking import MlflowClient

    from openastro.ml.tracking import tracking, tracking_uri

    report = EnergyReport(energy_kwh=2e-6, co2_kg=9.5e-7, cpu_seconds=0.7, wall_seconds=1.0,
                          method="estimate", is_estimate=True, power_w=10.0, carbon_intensity_g_per_kwh=475.0)
    with tracking(tmp_path, "e", "r") as run:
        log_energy(report)
    data = MlflowClient(tracking_uri(tmp_path)).get_run(run.info.run_id).data
    assert data.metrics["energy_kwh"] == pytest.approx(2e-6) and data.metrics["co2_kg"] == pytest.approx(9.5e-7)
    assert data.metrics["cpu_seconds"] == pytest.approx(0.7)
    assert data.tags["energy_method"] == "estimate" and data.tags["energy_is_estimate"] == "true"
