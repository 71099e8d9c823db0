"""Transients: supernovae (Ia, II, Ibc, superluminous) and rare kilonovae on host galaxies, nuclear transients
(TDE, AGN flare) at galaxy centres, novae and moving main-belt asteroids (placed away from catalog stars).

The explosive classes share their light curves with the alert-stream simulator (sim.alertmodels): Bazin curves
per band with the class's rise, fall and colour drawn from the literature, time-dilated by the redshift at which
the class's drawn peak absolute magnitude appears at the transient's peak magnitude."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from openastro.sim import alertmodels
from openastro.sim.fields import STAR_ID_STRIDE, Field, far_from_stars

MIN_STAR_SEP_ARCSEC = 6.0
FAINT = 40.0  # magnitude used for "no light yet"
HOSTLESS = 0.05  # supernovae with no galaxy under them (faint dwarf hosts below the catalogue)
# Peak absolute r magnitude (mean, sigma) of each class's host galaxies: SN Ia hosts are massive (log M* ~ 10.3,
# Sullivan et al. 2010; Smith et al. 2020), core-collapse hosts a little less (Schulze et al. 2021, PTF), SLSN
# hosts are dwarfs (Perley et al. 2016; Schulze et al. 2021), GW170817's host NGC 4993 for kilonovae. A host is a
# galaxy at its supernova's own distance: r = mu + M_host, so a supernova is about as bright as its host only when
# it is a superluminous one, and a normal SN Ia sits on a galaxy a magnitude or more brighter than its peak.
HOST_ABS_MAG = {"SN Ia": (-20.5, 1.0), "SN II": (-19.8, 1.1), "SN Ibc": (-20.0, 1.0), "SLSN": (-17.3, 1.2),
                "kilonova": (-20.4, 0.8)}
HOST_MATCH_MAG = 0.5  # a field galaxy this close to the host's magnitude is taken as the host
HOST_ID_OFFSET = 950_000  # ids of the hosts added to a field (above its own galaxies')
# Classes of the explosive transients a magnitude-limited survey finds (ZTF Bright Transient Survey, Perley et al.
# 2020: Ia 72 %, II 19 %, Ibc 7 %, SLSN 1.5 %), with kilonovae as a rare class.
EXPLOSIVE_MIX = {"SN Ia": 0.72, "SN II": 0.19, "SN Ibc": 0.065, "SLSN": 0.02, "kilonova": 0.005}


@dataclass
class Transient:
    """One transient; the light curve and (for asteroids) the motion are functions of time."""

    transient_id: str
    kind: str  # supernova, kilonova, nuclear, nova, asteroid
    subtype: str  # SN Ia, SN II, SN Ibc, SLSN, kilonova, TDE, AGN flare, classical, main-belt
    field_id: str
    ra: float  # at t_ref for asteroids
    dec: float
    t_ref: float  # peak (SN), outburst (nova), closest approach to the field centre (asteroid), MJD
    peak_mag: float  # V
    rise_days: float = math.nan  # explosive: rest-frame Bazin rise time
    decline: float = math.nan  # explosive: rest-frame Bazin fall time in r; nova: t2 (days to fade 2 mag)
    amplitude: float = math.nan  # nova outburst amplitude (mag)
    rate_arcsec_min: float = math.nan
    position_angle: float = math.nan  # deg, east of north
    host_id: int = -1  # galaxy_id of the host (-1: none)
    host_offset_arcsec: float = math.nan  # from the host's centre
    z: float = math.nan  # explosive: redshift (time dilation)
    abs_mag: float = math.nan  # explosive: peak absolute magnitude in r
    g_r: float = math.nan  # explosive: g-r at peak
    g_ratio: float = math.nan  # explosive: fall time in g over that in r (bluer bands fade faster)

    @property
    def explosive(self) -> bool:
        """Whether the light curve is one of sim.alertmodels' explosive classes."""
        return self.kind in ("supernova", "kilonova")

    def mag(self, t: np.ndarray) -> np.ndarray:
        """V magnitude at times t (MJD); FAINT long before a supernova's peak."""
        if self.explosive:
            return self.band_mag(t, "V")
        dt = np.asarray(t, dtype=float) - self.t_ref
        if self.kind == "asteroid":
            return np.full_like(dt, self.peak_mag)
        if self.kind == "nuclear":
            return self.peak_mag + _nuclear_fade(self.subtype, dt, self.rise_days, self.decline)
        if self.kind == "nova":
            rising = self.amplitude * np.clip(-dt / self.rise_days, 0.0, 1.0)
            return self.peak_mag + np.where(dt < 0, rising, np.minimum(2.0 * dt / self.decline, self.amplitude))
        return np.full_like(dt, FAINT)

    def band_mag(self, t: np.ndarray, band_name: str) -> np.ndarray:
        """Magnitude in band `band_name` at times t, with the colour evolution of its kind (sim/bands.py)."""
        from openastro.sim.bands import offset_from_v, transient_colours

        t = np.asarray(t, dtype=float)
        if self.explosive:
            return np.minimum(alertmodels.explosive_mag(self.light_curve_params(), t, band_name), FAINT)
        return self.mag(t) + offset_from_v(band_name, *transient_colours(self.kind, self.subtype, t - self.t_ref))

    def light_curve_params(self) -> dict:
        """The explosive light curve in sim.alertmodels' terms (peak r = abs_mag + mu)."""
        peak_r = self.peak_mag - alertmodels.colour_offset("V", self.g_r)
        return {"z": self.z, "mu": peak_r - self.abs_mag, "abs_mag": self.abs_mag, "t_peak": self.t_ref,
                "rise": self.rise_days, "fall": self.decline, "g_ratio": self.g_ratio, "g_r": self.g_r}

    def position(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """RA, Dec (deg) at times t; fixed except for asteroids."""
        dt_min = (np.asarray(t, dtype=float) - self.t_ref) * 1440.0
        if self.kind != "asteroid":
            return np.full_like(dt_min, self.ra), np.full_like(dt_min, self.dec)
        step = self.rate_arcsec_min * dt_min / 3600.0
        pa = math.radians(self.position_angle)
        dec = self.dec + step * math.cos(pa)
        ra = self.ra + step * math.sin(pa) / math.cos(math.radians(self.dec))
        return ra % 360.0, dec

    def to_row(self) -> dict:
        """The transient's parameters as a truth row."""
        return asdict(self)


def explosive(subtype: str, field_id: str, ra: float, dec: float, t_peak: float, rng: np.random.Generator,
              host_id: int = -1, host_offset_arcsec: float = math.nan) -> Transient:
    """A supernova or kilonova of class `subtype` peaking at t_peak: the apparent peak as the frames see them (SN Ia
    14-18.5 mag in V, the others 15-19), the class's shape from sim.alertmodels, and the redshift that puts its
    absolute magnitude there."""
    peak_mag = rng.uniform(14.0, 18.5) if subtype == "SN Ia" else rng.uniform(15.0, 19.0)
    shape = alertmodels.draw_shape(subtype, rng)
    peak_r = peak_mag - alertmodels.colour_offset("V", shape["g_r"])
    z = alertmodels.z_reaching(shape["abs_mag"], peak_r)
    return Transient("", "kilonova" if subtype == "kilonova" else "supernova", subtype, field_id, ra, dec,
                     t_ref=t_peak, peak_mag=peak_mag, rise_days=shape["rise"], decline=shape["fall"], host_id=host_id,
                     host_offset_arcsec=host_offset_arcsec, z=z, abs_mag=shape["abs_mag"], g_r=shape["g_r"],
                     g_ratio=shape["g_ratio"])


def _nuclear_fade(subtype: str, dt: np.ndarray, rise: float, decline: float) -> np.ndarray:
    """Magnitudes below peak: a TDE rises as a Gaussian and fades as t^(-5/3) (van Velzen et al. 2021); an AGN
    flare rises and falls as a Gaussian of `decline` days."""
    with np.errstate(divide="ignore"):
        if subtype == "TDE":
            before = 1.0857 * (dt / rise) ** 2 / 2
            after = 2.5 * 5 / 3 * np.log10(1 + np.clip(dt, 0, None) / decline)
            return np.minimum(np.where(dt < 0, before, after), FAINT)
        width = np.where(dt < 0, rise, decline)
        return np.minimum(1.0857 * (dt / width) ** 2 / 2, FAINT)


def host_spot(host: pd.Series, rng: np.random.Generator) -> tuple[float, float, float]:
    """RA, Dec and offset (arcsec) of a point drawn from the host's own light (GalSim photon shooting), so that
    most fall within 1-2 half-light radii, following bulge, disc and arms."""
    import galsim

    from openastro.sim.galaxies import profile

    photons = profile(host).shoot(16, galsim.BaseDeviate(int(rng.integers(1, 2**31))))
    bright = np.flatnonzero(photons.flux > 0)  # a dust lane shoots negative photons: never a spot
    k = int(bright[0]) if len(bright) else 0
    east, north = float(photons.x[k]), float(photons.y[k])
    dec = float(host["dec"]) + north / 3600.0
    ra = (float(host["ra"]) + east / 3600.0 / math.cos(math.radians(float(host["dec"])))) % 360.0
    return ra, dec, math.hypot(east, north)


def _spot_on(host: pd.Series, stars_ra: np.ndarray, stars_dec: np.ndarray, rng: np.random.Generator,
             tries: int = 20) -> tuple[float, float, float]:
    """`host_spot`, drawn again (up to `tries` times) while it falls on a catalog star."""
    for _ in range(tries):
        ra, dec, offset = host_spot(host, rng)
        if far_from_stars(ra, dec, stars_ra, stars_dec, MIN_STAR_SEP_ARCSEC):
            break
    return ra, dec, offset


def pick_host(galaxies: pd.DataFrame, rng: np.random.Generator, nuclear: bool = False) -> pd.Series | None:
    """A host galaxy, with probability following its light (supernova rates follow stellar mass); a nuclear
    transient needs a bulge or an elliptical."""
    if galaxies.empty:
        return None
    if nuclear:
        galaxies = galaxies[galaxies["bulge_frac"] > 0.2]
    if galaxies.empty:
        return None
    weight = 10 ** (-0.4 * (galaxies["mag"].to_numpy() - galaxies["mag"].min()))
    return galaxies.iloc[int(rng.choice(len(galaxies), p=weight / weight.sum()))]


def _spot(field: Field, half_deg: float, stars_ra: np.ndarray, stars_dec: np.ndarray,
          rng: np.random.Generator) -> tuple[float, float]:
    """A random position near the field centre that is not on a catalog star."""
    cos = math.cos(math.radians(field.dec))
    for _ in range(200):
        dx, dy = rng.uniform(-half_deg, half_deg, 2)
        ra, dec = (field.ra + dx / cos) % 360.0, field.dec + dy
        if far_from_stars(ra, dec, stars_ra, stars_dec, MIN_STAR_SEP_ARCSEC):
            break
    return float(ra), float(dec)


def _inner(galaxies: pd.DataFrame | None, field: Field, half_deg: float) -> pd.DataFrame:
    """The galaxies within `half_deg` of the field centre (where every site's frame looks)."""
    if galaxies is None or galaxies.empty:
        return pd.DataFrame()
    cos = math.cos(math.radians(field.dec))
    dra = ((galaxies["ra"] - field.ra + 180.0) % 360.0 - 180.0) * cos
    return galaxies[(dra.abs() < half_deg) & ((galaxies["dec"] - field.dec).abs() < half_deg)]


def make_transients(field: Field, counts: tuple[int, ...], half_deg: float, t_start: float, t_end: float,
                    stars_ra: np.ndarray, stars_dec: np.ndarray, rng: np.random.Generator,
                    galaxies: pd.DataFrame | None = None, add_hosts: bool = True, at_distance: bool = True,
                    siblings: int = 0) -> tuple[list[Transient], pd.DataFrame]:
    """The supernovae (kilonovae among them), novae, asteroids and nuclear transients of one field (counts in that
    order) over [t_start, t_end], and the host galaxies added to the field for them. With `galaxies` (the field's
    own), supernovae sit on hosts at their own distance (`supernova_host`; a few hostless) and nuclear transients
    at the centres of bulgy field galaxies; without, every transient is hostless. `add_hosts=False` keeps the
    field's galaxies as they are (a sky that must look the same on every night): the closest in magnitude hosts.
    `at_distance=False` picks hosts among the field's galaxies by light alone, whatever the supernova's distance
    (the default sky until models trained on the sky with hosts at their distance meet their targets). Each added
    host brings `siblings` galaxies drawn like it that hold no supernova: at the boosted supernova rates of training
    chunks, bright galaxies would otherwise nearly all be hosts, where on the real sky few of them hold one."""
    out: list[Transient] = []
    n_sn, n_nova, n_ast, n_nuclear = (*counts, 0)[:4]
    hosts = _inner(galaxies, field, half_deg)
    added: list[dict] = []
    for _ in range(n_sn):
        subtype = str(rng.choice(list(EXPLOSIVE_MIX), p=list(EXPLOSIVE_MIX.values())))
        sn = explosive(subtype, field.field_id, field.ra, field.dec, rng.uniform(t_start - 25.0, t_end + 12.0), rng)
        host = None
        if galaxies is not None and rng.random() >= HOSTLESS:
            host = (supernova_host(sn, hosts, added if add_hosts else None, galaxies, field, half_deg, stars_ra,
                                   stars_dec, rng, siblings) if at_distance else pick_host(hosts, rng))
        if host is None:
            sn.ra, sn.dec = _spot(field, half_deg, stars_ra, stars_dec, rng)
        else:
            sn.ra, sn.dec, sn.host_offset_arcsec = _spot_on(host, stars_ra, stars_dec, rng)
            sn.host_id = int(host["galaxy_id"])
        out.append(sn)
    for _ in range(n_nuclear):
        host = pick_host(hosts, rng, nuclear=True)
        if host is None:
            continue
        tde = rng.random() < 0.6
        out.append(Transient("", "nuclear", "TDE" if tde else "AGN flare", field.field_id, float(host["ra"]),
                             float(host["dec"]), t_ref=rng.uniform(t_start - 20.0, t_end + 10.0),
                             peak_mag=rng.uniform(15.5, 18.5), rise_days=rng.uniform(15.0, 30.0),
                             decline=rng.uniform(30.0, 80.0), host_id=int(host["galaxy_id"]), host_offset_arcsec=0.0))
    for _ in range(n_nova):
        ra, dec = _spot(field, half_deg, stars_ra, stars_dec, rng)
        out.append(Transient("", "nova", "classical", field.field_id, ra, dec,
                             t_ref=rng.uniform(t_start - 20.0, t_end), peak_mag=rng.uniform(10.0, 16.0),
                             rise_days=rng.uniform(0.5, 2.0), decline=math.exp(rng.uniform(math.log(3), math.log(60))),
                             amplitude=rng.uniform(8.0, 15.0)))
    for _ in range(n_ast):
        ra, dec = _spot(field, 0.3 * half_deg, stars_ra[:0], stars_dec[:0], rng)
        out.append(Transient("", "asteroid", "main-belt", field.field_id, ra, dec,
                             t_ref=rng.uniform(t_start, t_end), peak_mag=rng.uniform(15.5, 19.5),
                             rate_arcsec_min=rng.uniform(0.25, 1.0), position_angle=rng.uniform(0, 360.0)))
    for i, tr in enumerate(out):
        tr.transient_id = f"{field.field_id}-{tr.kind[:2].upper()}{i + 1:02d}"  # SU, KI, NU, NO, AS
    columns = list(galaxies.columns) if galaxies is not None else []
    return out, pd.DataFrame(added, columns=columns or None)


def supernova_host(sn: Transient, hosts: pd.DataFrame, added: list[dict] | None, galaxies: pd.DataFrame,
                   field: Field, half_deg: float, stars_ra: np.ndarray, stars_dec: np.ndarray,
                   rng: np.random.Generator, siblings: int = 0) -> pd.Series | None:
    """A host at the supernova's distance (r = mu + M_host of its class): a field galaxy within HOST_MATCH_MAG of
    that (by light), else a new galaxy of that magnitude near the field centre, appended to `added` with
    `siblings` more at the same distance (their own M_host) and no supernova (with `added` None: the field galaxy
    closest in magnitude)."""
    mu = sn.light_curve_params()["mu"]
    mag = mu + rng.normal(*HOST_ABS_MAG[sn.subtype])
    gap = (hosts["mag"] - mag).abs() if len(hosts) else pd.Series(dtype=float)
    if (gap < HOST_MATCH_MAG).any():
        return pick_host(hosts[gap < HOST_MATCH_MAG], rng)
    if added is None:
        return hosts.loc[gap.idxmin()] if len(hosts) else None
    host = _add_galaxy(mag, added, galaxies, field, half_deg, stars_ra, stars_dec, rng)
    for _ in range(siblings):
        _add_galaxy(mu + rng.normal(*HOST_ABS_MAG[sn.subtype]), added, galaxies, field, half_deg, stars_ra,
                    stars_dec, rng)
    return host


def _add_galaxy(mag: float, added: list[dict], galaxies: pd.DataFrame, field: Field, half_deg: float,
                stars_ra: np.ndarray, stars_dec: np.ndarray, rng: np.random.Generator) -> pd.Series:
    """A new galaxy of r magnitude `mag` near the field centre, off the catalog stars, appended to `added`."""
    from openastro.sim.galaxies import describe_galaxies

    ra, dec = _spot(field, half_deg, stars_ra, stars_dec, rng)
    block = int(galaxies["galaxy_id"].min()) // STAR_ID_STRIDE * STAR_ID_STRIDE if len(galaxies) else 0
    ids = np.array([block + HOST_ID_OFFSET + len(added)])
    row = {k: v[0] for k, v in describe_galaxies(ids, field.field_id, np.array([mag]), np.array([ra]),
                                                 np.array([dec]), rng).items()}
    added.append(row)
    return pd.Series(row)


def transient_table(transients: list[Transient]) -> pd.DataFrame:
    """Parameters of every transient, one row each."""
    cols = list(Transient.__dataclass_fields__)
    return pd.DataFrame([t.to_row() for t in transients], columns=cols)
