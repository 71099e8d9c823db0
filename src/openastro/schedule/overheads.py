"""Time that is not exposure: slew at the mount's rate over the angular distance from the previous target,
settle, filter change, readout. A block lasts overhead + repeats x (exposure + readout)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def angular_distance(ra1: np.ndarray | float, dec1: np.ndarray | float, ra2: np.ndarray | float,
                     dec2: np.ndarray | float) -> np.ndarray:
    """Great-circle distance (deg) between RA/Dec positions in degrees, broadcast (haversine)."""
    r1, d1, r2, d2 = (np.radians(np.asarray(x, dtype=float)) for x in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


@dataclass(frozen=True)
class Overheads:
    """A telescope's overheads (seconds, and deg/s for the slew)."""

    slew_rate_deg_s: float = 2.0
    settle_s: float = 10.0
    filter_change_s: float = 20.0
    readout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: object) -> Overheads:
        """From a schedule Settings (or any object with these attributes)."""
        return cls(*(float(getattr(settings, k)) for k in ("slew_rate_deg_s", "settle_s", "filter_change_s",
                                                            "readout_s")))

    @property
    def worst_setup_s(self) -> float:
        """The longest setup a block can need: a 180 deg slew, settle and a filter change."""
        return float(self.slew_s(180.0) + self.settle_s + self.filter_change_s)

    def fixed(self) -> Overheads:
        """The same telescope with every block's setup at its worst case (the integer program's model)."""
        return Overheads(math.inf, self.worst_setup_s, 0.0, self.readout_s)

    def slew_s(self, distance_deg: np.ndarray | float) -> np.ndarray:
        """Slew time over an angular distance (no settle)."""
        return np.asarray(distance_deg, dtype=float) / self.slew_rate_deg_s

    def setup_s(self, distance_deg: np.ndarray | float, filter_changes: np.ndarray | bool) -> np.ndarray:
        """Before the first exposure of a block: slew and settle (when the target moves) and filter change."""
        d = np.asarray(distance_deg, dtype=float)
        return self.slew_s(d) + np.where(d > 0, self.settle_s, 0.0) + np.where(filter_changes, self.filter_change_s, 0.0)

    def block_s(self, exposure_s: np.ndarray | float, repeats: np.ndarray | int, distance_deg: np.ndarray | float,
                filter_changes: np.ndarray | bool) -> np.ndarray:
        """A whole block: setup + repeats x (exposure + readout)."""
        return self.setup_s(distance_deg, filter_changes) + np.asarray(repeats) * (np.asarray(exposure_s) + self.readout_s)

    def from_previous(self, prev: tuple[float, float, str] | None, ra: np.ndarray, dec: np.ndarray,
                      filters: np.ndarray) -> np.ndarray:
        """Setup seconds of each target after the previous block (ra, dec, filter); the first block of a
        night pays settle (and no slew: the telescope is assumed pointed by the start of the night)."""
        if prev is None:
            return np.full(len(ra), self.settle_s)
        changes = (filters != prev[2]) & (filters != "") & (prev[2] != "")
        return self.setup_s(angular_distance(prev[0], prev[1], ra, dec), changes)
