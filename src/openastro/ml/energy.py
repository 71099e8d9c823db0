"""Energy and CO2 of a piece of work (a training run): measured through codecarbon or Intel RAPL where the
machine allows, else estimated from the process's CPU time and a per-core package power, and labelled so."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from openastro.core.errors import ConfigError

# IEA world-average carbon intensity of electricity generation, 475 g CO2/kWh (IEA, Global Energy & CO2 Status
# Report 2019; also the world default of the Green Algorithms calculator).
WORLD_CARBON_INTENSITY_G_PER_KWH = 475.0
# Package power per busy core: server CPUs draw about 8-12 W per core at full load (e.g. a 205 W, 20-core Xeon
# or a 280 W, 32-core EPYC), so 10 W; the Green Algorithms and codecarbon defaults are of the same order.
DEFAULT_W_PER_CORE = 10.0
RAPL_ROOT = Path("/sys/class/powercap")
JOULES_PER_KWH = 3.6e6
METHODS = ("auto", "codecarbon", "rapl", "estimate")


@dataclass
class EnergyReport:
    """Energy and CO2 of one measured span, with how they were obtained."""

    energy_kwh: float
    co2_kg: float
    cpu_seconds: float
    wall_seconds: float
    method: str  # "codecarbon" | "rapl" | "estimate"
    is_estimate: bool
    power_w: float  # per-core package power of an estimate, else the measured mean power
    carbon_intensity_g_per_kwh: float
    gpu_power_w: float = 0.0  # mean sampled GPU power added to an estimate (0 when no GPU was in use)

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain dict (for JSON, cards and MLflow)."""
        return asdict(self)


class EnergyMeter:
    """Context manager measuring (or estimating) the energy and CO2 of its block; `report` is set on exit."""

    def __init__(self, carbon_intensity_g_per_kwh: float = WORLD_CARBON_INTENSITY_G_PER_KWH,
                 tdp_w_per_core: float | None = None, prefer: str = "auto") -> None:
        if prefer not in METHODS:
            raise ConfigError(f"EnergyMeter prefer={prefer!r}: use one of {METHODS}")
        self.carbon_intensity = carbon_intensity_g_per_kwh
        self.w_per_core = DEFAULT_W_PER_CORE if tdp_w_per_core is None else tdp_w_per_core
        self.method = choose_method(prefer)
        self.report: EnergyReport | None = None

    def __enter__(self) -> EnergyMeter:
        self._tracker = _start_codecarbon(self.carbon_intensity) if self.method == "codecarbon" else None
        self._rapl_start = read_rapl_uj() if self.method == "rapl" else None
        self._gpu_samples = [w for w in [gpu_power_w()] if w is not None]
        self._cpu_start, self._wall_start = cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu = time.perf_counter() - self._wall_start, cpu_seconds() - self._cpu_start
        gpu_w = 0.0
        if self.method == "codecarbon":
            self._tracker.stop()
            joules = self._tracker.final_emissions_data.energy_consumed * JOULES_PER_KWH
        elif self.method == "rapl":
            joules = rapl_joules(self._rapl_start, read_rapl_uj())
        else:
            samples = self._gpu_samples + [w for w in [gpu_power_w()] if w is not None]
            gpu_w = sum(samples) / len(samples) if samples else 0.0
            joules = cpu * self.w_per_core + gpu_w * wall
        self.report = self._report(joules, cpu, wall, gpu_w)

    def _report(self, joules: float, cpu: float, wall: float, gpu_w: float) -> EnergyReport:
        """The report of `joules` spent over `wall` seconds, CO2 at this meter's carbon intensity."""
        energy_kwh = joules / JOULES_PER_KWH
        estimate = self.method == "estimate"
        return EnergyReport(
            energy_kwh=energy_kwh, co2_kg=energy_kwh * self.carbon_intensity / 1000.0, cpu_seconds=cpu,
            wall_seconds=wall, method=self.method,
            # codecarbon measures the CPU through RAPL only; without it, it models power from load and TDP
            is_estimate=estimate or (self.method == "codecarbon" and not rapl_zones()),
            power_w=self.w_per_core if estimate else joules / max(wall, 1e-9),
            carbon_intensity_g_per_kwh=self.carbon_intensity, gpu_power_w=gpu_w)


def choose_method(prefer: str = "auto") -> str:
    """The first usable method from `prefer` on, in the order codecarbon, rapl, estimate ("auto": all)."""
    order = METHODS[1:]
    start = 0 if prefer == "auto" else order.index(prefer)
    usable = {"codecarbon": importlib.util.find_spec("codecarbon") is not None, "rapl": bool(rapl_zones()),
              "estimate": True}
    return next(method for method in order[start:] if usable[method])


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (e.g. DataLoader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def rapl_zones(root: Path = RAPL_ROOT) -> list[Path]:
    """The readable RAPL package zones (intel-rapl:N, not sub-zones); empty where RAPL is not exposed."""
    zones = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
    return [zone for zone in zones if _read_int(zone / "energy_uj") > 0]


def read_rapl_uj(root: Path = RAPL_ROOT) -> list[tuple[int, int]]:
    """(energy counter, counter range) in microjoules of every readable RAPL package zone."""
    return [(_read_int(z / "energy_uj"), _read_int(z / "max_energy_range_uj")) for z in rapl_zones(root)]


def gpu_power_w() -> float | None:
    """The summed power draw of the CUDA devices, when torch has already initialised CUDA and NVML answers."""
    torch = sys.modules.get("torch")  # no import: a process that never loaded torch used no GPU through it
    if torch is None or not torch.cuda.is_initialized():
        return None
    try:
        return sum(torch.cuda.power_draw(i) for i in range(torch.cuda.device_count())) / 1000.0
    except Exception:  # NVML missing or unsupported: the GPU is then left out of the estimate
        return None


def log_energy(report: EnergyReport, prefix: str = "") -> None:
    """Log the report to the active MLflow run: energy/CO2/CPU-time metrics, method and estimate-flag tags."""
    import mlflow

    mlflow.log_metrics({f"{prefix}{k}": float(getattr(report, k))
                        for k in ("energy_kwh", "co2_kg", "cpu_seconds", "wall_seconds", "power_w")})
    mlflow.set_tags({f"{prefix}energy_method": report.method,
                     f"{prefix}energy_is_estimate": str(report.is_estimate).lower(),
                     f"{prefix}carbon_intensity_g_per_kwh": str(report.carbon_intensity_g_per_kwh)})


def _start_codecarbon(carbon_intensity: float) -> Any:
    """A started offline codecarbon tracker for this process, writing no files and logging only errors."""
    from codecarbon import OfflineEmissionsTracker

    # the country only matters for codecarbon's own CO2 figure, which the forced intensity replaces
    tracker = OfflineEmissionsTracker(country_iso_code="USA", tracking_mode="process", save_to_file=False,
                                      log_level="error", force_carbon_intensity_g_co2e_kwh=carbon_intensity)
    tracker.start()
    return tracker


def rapl_joules(start: list[tuple[int, int]], end: list[tuple[int, int]]) -> float:
    """Joules between two RAPL readings, summed over packages, allowing for one counter wrap each."""
    total_uj = sum((e - s) % r if r else e - s for (s, r), (e, _) in zip(start, end, strict=True))
    return total_uj / 1e6


def _read_int(path: Path) -> int:
    """An integer sysfs file, 0 when it cannot be read (RAPL files are root-only on many kernels)."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0
