"""Peaks of a periodogram and how they relate: 1-day aliases, harmonics, half and double periods."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

SIDEREAL_DAY = 1.0027379  # cycles per day: ground-based sampling repeats once per sidereal day


@dataclass
class Peak:
    """One periodogram peak; `flags` say how it relates to stronger peaks or why to doubt it."""

    # flags: '1d_alias', 'harmonic', 'half' (this period is half a stronger peak's; on the best peak: the true
    # period is probably twice it), 'double', 'not_significant', 'red_noise', 'edge' (at the grid's end)

    rank: int
    frequency: float
    power: float
    fap: float | None = None
    significant: bool = False
    flags: list[str] = field(default_factory=list)
    related_to: int | None = None  # rank of the stronger peak a relation flag refers to

    @property
    def period(self) -> float:
        """Period in days."""
        return 1.0 / self.frequency

    def flag(self, *names: str) -> None:
        """Add flags, keeping each once and in order."""
        self.flags.extend(n for n in names if n not in self.flags)

    def to_dict(self) -> dict:
        """Plain dict with the period added."""
        return {**asdict(self), "period": self.period}


def top_peaks(frequency: np.ndarray, power: np.ndarray, n: int, min_separation: float) -> np.ndarray:
    """Indices of the `n` highest local maxima, each at least `min_separation` from a higher one."""
    p = np.asarray(power, dtype=float)
    if len(p) < 3:
        return np.argsort(p)[::-1][:n]
    interior = np.flatnonzero((p[1:-1] >= p[:-2]) & (p[1:-1] >= p[2:])) + 1
    ends = [i for i, ok in ((0, p[0] > p[1]), (len(p) - 1, p[-1] > p[-2])) if ok]
    candidates = np.concatenate([interior, np.array(ends, dtype=int)])
    chosen: list[int] = []
    for i in candidates[np.argsort(p[candidates])[::-1]]:
        if all(abs(frequency[i] - frequency[j]) >= min_separation for j in chosen):
            chosen.append(int(i))
            if len(chosen) == n:
                break
    return np.array(chosen, dtype=int)


def relation(f: float, stronger: float, tol: float, max_harmonic: int = 4) -> list[str]:
    """Flags for a peak at `f` relative to a stronger peak: '1d_alias', 'harmonic', 'half', 'double'."""
    flags: list[str] = []
    for k in (1, 2):
        if abs(abs(f - stronger) - k * SIDEREAL_DAY) < tol or abs(f + stronger - k * SIDEREAL_DAY) < tol:
            flags.append("1d_alias")
            break
    for n in range(2, max_harmonic + 1):
        if abs(f - n * stronger) < tol:  # a harmonic: period 1/n of the stronger one
            flags += ["harmonic"] + (["half"] if n == 2 else [])
            break
        if abs(f - stronger / n) < tol:  # a subharmonic: period n times the stronger one
            flags += ["harmonic"] + (["double"] if n == 2 else [])
            break
    return flags


def flag_relations(peaks: list[Peak], tol: float, max_harmonic: int = 4) -> None:
    """Flag every peak by its relation to the strongest stronger peak it relates to (peaks sorted by rank)."""
    for i, peak in enumerate(peaks):
        for stronger in peaks[:i]:
            flags = relation(peak.frequency, stronger.frequency, tol, max_harmonic)
            if flags:
                peak.flag(*flags)
                peak.related_to = stronger.rank
                break
