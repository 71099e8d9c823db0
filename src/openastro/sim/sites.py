"""The built-in table of real observatories, each with fixed instrument, sky and weather parameters."""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from openastro.core.errors import ConfigError

# Photons s^-1 m^-2 above the atmosphere from a V = 0 star (3.63e-9 erg/cm^2/s/A over the ~880 A V band).
V0_PHOTONS_PER_M2 = 8.85e9


@dataclass(frozen=True)
class Site:
    """One observatory: location, telescope and camera, sky and weather (numbers from SIMULATION.md ranges)."""

    site_id: str
    name: str
    lat: float
    lon: float
    elevation_m: float
    timezone: str
    telescope: str
    instrument: str
    aperture_m: float
    obstruction: float  # central obstruction, fraction of the diameter
    throughput: float  # optics x filter x QE
    pixel_scale: float  # arcsec / px
    pixel_um: float
    gain: float  # e- / ADU
    read_noise: float  # e-
    dark_current: float  # e- / s / px at ccd_temp
    bias: float  # ADU
    full_well: float  # e-
    ccd_temp: float  # deg C set point
    psf_beta: float  # Moffat beta of the delivered PSF
    seeing_median: float  # arcsec FWHM at zenith
    seeing_sigma: float  # log-normal spread (natural log)
    sky_dark: float  # V mag / arcsec^2 at zenith, moonless, astronomical night
    extinction: float  # V mag / airmass
    clear_fraction: float  # long-run fraction of time with clear sky
    cloud_dwell_h: float  # mean time a weather state persists
    dew_tendency: float  # multiplies the configured dew rate
    tracking_jitter: float  # arcsec rms of guiding wobble in a normal frame
    pointing_jitter: float  # arcsec rms of the pointing offset between frames
    camera_angle: float  # deg, rotation of the camera on the sky
    zp_drift: float  # mag, rms of the slow zero-point drift
    zp_jump_rate: float  # zero-point jumps per night
    vignetting: float  # fractional flat-field fall-off at the frame corner
    hot_pixel_frac: float
    bad_columns: int
    filters: str  # the filter wheel, space-separated band names (sim/bands.py)

    @property
    def filter_set(self) -> tuple[str, ...]:
        """The bands the site's filter wheel holds."""
        return tuple(self.filters.split())

    @property
    def area_m2(self) -> float:
        """Unobstructed collecting area."""
        return math.pi / 4 * self.aperture_m**2 * (1 - self.obstruction**2)

    @property
    def zero_point(self) -> float:
        """Instrumental V zero point above the atmosphere: the magnitude that gives 1 e-/s (other bands: add
        the band's zero_point_offset, sim/bands.py)."""
        return 2.5 * math.log10(V0_PHOTONS_PER_M2 * self.area_m2 * self.throughput)

    @property
    def saturation_adu(self) -> float:
        """The ADU level where a pixel stops responding: full well or the 16-bit ceiling."""
        return min(65535.0, self.bias + self.full_well / self.gain)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for the site table, with the derived numbers."""
        row = dataclasses.asdict(self)
        row.update(zero_point=self.zero_point, area_m2=self.area_m2, saturation_adu=self.saturation_adu)
        return row


def _convert(field: dataclasses.Field, text: str) -> Any:
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    return {"float": float, "int": int}.get(kind, str)(text)


def load_sites() -> list[Site]:
    """Every site of the built-in table, in table order."""
    text = resources.files("openastro.sim").joinpath("data/sites.csv").read_text()
    fields = {f.name: f for f in dataclasses.fields(Site)}
    return [Site(**{k: _convert(fields[k], v) for k, v in row.items()}) for row in csv.DictReader(text.splitlines())]


def select_sites(names: list[str]) -> list[Site]:
    """The sites named (by name or site_id, case-insensitive); all of them for an empty list."""
    sites = load_sites()
    if not names:
        return sites
    by_key = {s.name.lower(): s for s in sites} | {s.site_id: s for s in sites}
    chosen = []
    for name in names:
        site = by_key.get(name.strip().lower())
        if site is None:
            known = ", ".join(s.name for s in sites)
            raise ConfigError(f"config key 'sim.sites': unknown site '{name}'; known sites: {known}")
        if site not in chosen:
            chosen.append(site)
    return chosen
