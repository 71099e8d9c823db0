"""The scheduler's settings as one plain record: the `[schedule]` config section, or defaults for notebooks."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

TWILIGHT_SUN_ALT = {"astronomical": -18.0, "nautical": -12.0, "civil": -6.0}  # Sun altitude (deg) at night's edge


@dataclass(frozen=True)
class Settings:
    """Slot length, overheads and the constraints a request leaves unset (see defaults.toml [schedule])."""

    slot_min: float = 5.0  # minutes per time slot of the night grid
    slew_rate_deg_s: float = 2.0  # mount slew rate
    settle_s: float = 10.0  # after every slew
    filter_change_s: float = 20.0  # when the filter differs from the previous block's
    readout_s: float = 10.0  # per exposure
    twilight: str = "nautical"  # default twilight of a request: astronomical, nautical or civil
    max_airmass: float = 2.0
    min_moon_sep_deg: float = 20.0
    max_moon_illumination: float = 1.0
    max_block_min: float = 60.0  # a relayable request's repeats are dispatched in blocks of at most this long
    urgency_weight: float = 1.0  # dispatcher: how much a request with few chances left outranks its value
    density_weight: float = 1.0  # dispatcher: score per minute of telescope time ** this (0: value alone)
    seed: int = 1  # the weather draw of the forecast (the simulator's weather streams)
    forecast: str = "process"  # process: the simulator's weather process; climate: each site's clear fraction

    @classmethod
    def from_config(cls, section: Any) -> Settings:
        """From the validated `[schedule]` section of a Config (or any object with these attributes)."""
        data = section.model_dump() if hasattr(section, "model_dump") else dict(section)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    @property
    def slot_days(self) -> float:
        """Slot length in days."""
        return self.slot_min / 1440.0
