"""Realism checks a reviewer can run on a simulated workspace: the sky's numbers against published ones, and a
simulated frame beside a real one at the same pixel scale, seeing and depth (sim/matched.py renders it).

Published values (../shared/SIMULATION.md): galaxy counts d log N / dm 0.3-0.45 for r = 18-24, about 10^3 per
deg^2 brighter than r = 20 and 10^4 brighter than 22.5 (SDSS/DES); half-light radii 1-5" at r = 18-20, below 1"
by r = 23; 60-70 % discs, 20-30 % ellipticals; pristine dark sky V 21.5-22.0, g 22.0-22.3, r 21.0-21.3,
i 20.0-20.5 mag/arcsec^2, a site's light pollution adding to every band as to V.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_PIXEL_SCALE = 100.0  # arcsec/px: coarser than any imaging camera (all-sky cameras are about 60"/px)


@dataclass
class Check:
    """One measured quantity beside the published range it should fall in."""

    name: str
    value: float | None
    low: float
    high: float
    source: str

    @property
    def passed(self) -> bool:
        return self.value is not None and self.low <= self.value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def _field_area(galaxies: pd.DataFrame) -> float:
    """Sky area (deg^2) the catalogue covers: the square each field's galaxies fill."""
    area = 0.0
    for _, own in galaxies.groupby("field_id"):
        cos = np.cos(np.radians(own["dec"].mean()))
        ra = (own["ra"] - own["ra"].iloc[0] + 180.0) % 360.0 - 180.0
        area += float(np.ptp(ra) * cos * np.ptp(own["dec"]))
    return area


def galaxy_checks(galaxies: pd.DataFrame) -> list[Check]:
    """Counts, slope, sizes and morphology of a galaxy catalogue against the published values."""
    if len(galaxies) < 50:
        return [Check("galaxies in the catalogue", float(len(galaxies)), 50, np.inf, "enough to measure counts")]
    area = _field_area(galaxies)
    mags = galaxies["mag"].to_numpy(float)
    faint = min(float(mags.max()), 24.0)
    edges = np.arange(max(18.0, float(mags.min())), faint + 1e-9, 0.5)
    counts, _ = np.histogram(mags, edges)
    good = counts > 0
    slope = float(np.polyfit((edges[:-1] + 0.25)[good], np.log10(counts[good]), 1)[0]) if good.sum() >= 3 else None
    checks = [Check("galaxy counts d log N / dm (r 18 to the catalogue limit)", slope, 0.3, 0.45, "SDSS/DES"),
              Check("galaxies per deg^2 brighter than r = 20", float((mags < 20).sum() / area), 500, 2000,
                    "SDSS/DES: about 10^3")]
    if mags.max() >= 22.5:
        checks.append(Check("galaxies per deg^2 brighter than r = 22.5", float((mags < 22.5).sum() / area), 5000,
                            20000, "SDSS/DES: about 10^4"))
    size = galaxies.loc[galaxies["mag"].between(18, 20), "re_arcsec"]
    checks.append(Check("median half-light radius at r = 18-20 (arcsec)", _median(size), 1.0, 5.0,
                        "SDSS: 1-5 arcsec"))
    if mags.max() > 22.75:  # the bin is sampled
        checks.append(Check("median half-light radius at r = 22.5-23 (arcsec)",
                            _median(galaxies.loc[galaxies["mag"].between(22.5, 23), "re_arcsec"]), 0.1, 1.0,
                            "below 1 arcsec"))
    share = galaxies["kind"].value_counts(normalize=True)
    checks += [Check("fraction of discs and spirals", float(share.get("disc", 0.0)), 0.6, 0.7, "low-z morphology"),
               Check("fraction of ellipticals and lenticulars", float(share.get("elliptical", 0.0)), 0.2, 0.3,
                     "low-z morphology")]
    return checks


def _median(values: pd.Series) -> float | None:
    return float(values.median()) if len(values) else None


PRISTINE_V = (21.5, 22.0)  # mag/arcsec^2, SIMULATION.md "Sky and atmosphere"
PRISTINE = {"g": (22.0, 22.3), "r": (21.0, 21.3), "i": (20.0, 20.5)}  # "Galaxies, filters and colours"


def sky_checks(measured: pd.DataFrame, sites: pd.DataFrame, tolerance: float = 1.0) -> list[Check]:
    """Per site and band g, r, i: its catalogue dark sky (V plus the band's offset, sim/bands.py) against the
    published pristine range moved by the site's light pollution (its V less the middle of pristine V). Per site
    (each frame brought to V by its band's offset) and per site and band (3 frames or more, several bands): the
    darkest decile of the measured sky against that dark sky (moonlight and twilight only brighten it;
    `tolerance` mag either way)."""
    from openastro.sim.bands import BANDS, band

    darks = {row.site_id: _dark_sky(row.params) for row in sites.itertuples(index=False)}
    checks = []
    for site_id, dark in darks.items():
        if dark is None:
            continue
        pollution = dark - sum(PRISTINE_V) / 2
        checks += [Check(f"{site_id}: dark sky in {name} (mag/arcsec^2)", dark + BANDS[name].sky_offset,
                         low + pollution, high + pollution,
                         f"SIMULATION.md: {low:g}-{high:g} pristine, {pollution:+.2f} from the site's V {dark:g}")
                   for name, (low, high) in PRISTINE.items()]
    sky = measured.dropna(subset=["sky_mag_arcsec2"])
    names = sky["filter"].fillna("V").replace("", "V") if "filter" in sky else pd.Series("V", index=sky.index)
    sky = sky.assign(band=[band(n).name for n in names])
    sky = sky.assign(as_v=sky["sky_mag_arcsec2"] - [BANDS[b].sky_offset for b in sky["band"]])
    for site_id, own in sky.groupby("site_id"):
        dark = darks.get(site_id)
        if dark is None:
            continue
        groups = [("V (each band less its offset)", own["as_v"], dark)]
        groups += [(name, part["sky_mag_arcsec2"], dark + BANDS[name].sky_offset)
                   for name, part in own.groupby("band") if len(part) >= 3 and own["band"].nunique() > 1]
        checks += [Check(f"{site_id}: darkest measured sky in {name} (mag/arcsec^2)", float(np.quantile(values, 0.9)),
                         expected - tolerance, expected + tolerance, f"site catalogue: {expected:.2f}")
                   for name, values, expected in groups if len(values) >= 3]
    return checks


def _dark_sky(params: str | None) -> float | None:
    """A site's catalogue dark-sky brightness (V) from its stored parameters."""
    import json

    if params is None:
        return None
    values = json.loads(params)
    return float(values["sky_dark"]) if "sky_dark" in values else None


def _site(row: dict[str, Any]) -> Any:
    """The workspace's site as the simulator knew it: its row and stored parameters over the built-in table's."""
    import dataclasses
    import json

    from openastro.core.errors import WorkspaceError
    from openastro.sim.sites import Site, load_sites

    names = {f.name for f in dataclasses.fields(Site)}
    built_in = {s.site_id: dataclasses.asdict(s) for s in load_sites()}
    stored = {k: v for k, v in row.items() if k != "params" and pd.notna(v)}
    values = built_in.get(row["site_id"], {}) | stored | json.loads(row.get("params") or "{}")
    try:
        return Site(**{k: v for k, v in values.items() if k in names})
    except TypeError:
        raise WorkspaceError(f"site '{row['site_id']}' of the workspace lacks its camera parameters; "
                             "simulate again") from None


def _population(stars: pd.DataFrame, galaxies: pd.DataFrame) -> Any:
    """The workspace's sky as a population for the matched frame: its star density and range, its galaxy range
    and density against the published counts (sim/galaxies.py); the simulator's defaults where it has none."""
    from openastro.sim.galaxies import expected_count
    from openastro.sim.matched import Population

    default = Population.from_config()
    if len(stars) < 3:
        return default
    star_area = _field_area(stars)
    density = len(stars) / star_area if star_area > 0 else default.star_density_deg2
    mags = (float(stars["mag"].min()), float(stars["mag"].max()))
    if len(galaxies) < 3:
        return Population(density, mags, default.galaxy_mags, 0.0)
    bright, faint = float(galaxies["mag"].min()), float(galaxies["mag"].max())
    expected = expected_count(_field_area(galaxies), bright, faint)
    return Population(density, mags, (bright, faint), len(galaxies) / expected if expected > 0 else 1.0)


STRETCH = (-3.0, 30.0)  # display range in units of each panel's own sky noise
ASINH_A = 0.1


def side_by_side(matched: Any, out: Path) -> Path:
    """One PNG: the matched simulated frame beside the real one, each as (pixel - sky) / its sky noise through the
    same asinh stretch, titled with the numbers a reviewer compares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.visualization import AsinhStretch, ImageNormalize

    norm = ImageNormalize(vmin=STRETCH[0], vmax=STRETCH[1], stretch=AsinhStretch(ASINH_A), clip=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 6.6))
    for ax, image, key in ((axes[0], matched.simulated, "simulated"), (axes[1], matched.real, "real")):
        ax.imshow(image, origin="lower", cmap="gray_r", norm=norm, interpolation="nearest")
        ax.set_title(_panel_title(matched.panels[key]), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    real = matched.panels["real"]
    fig.suptitle(f"matched at {real.pixel_scale:.3g}\"/px and {real.size_px} px: seeing (FWHM) and depth (sky over "
                 f"its noise); the real zero point implied by the simulated sky\nboth panels: asinh of (pixel - sky) / "
                 f"sky noise from {STRETCH[0]:g} to {STRETCH[1]:g}", fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def _panel_title(panel: Any) -> str:
    """A panel's label and numbers, four lines."""
    fwhm = "FWHM -" if panel.fwhm_arcsec is None else f"FWHM {panel.fwhm_arcsec:.2f}\" ({panel.fwhm_px:.2f} px)"
    depth = "-" if panel.depth_5sigma is None else f"{panel.depth_5sigma:.2f}"
    noise = "-" if panel.noise_mag_arcsec2 is None else f"{panel.noise_mag_arcsec2:.2f}"
    return (f"{panel.label}\n{fwhm}, sky/noise {panel.sky_to_noise:.3g}\nsky noise {noise} mag/arcsec^2, 5-sigma depth {depth}\n"
            f"{panel.sources_per_arcmin2:.2f} sources/arcmin^2 at S/N >= 5")


MATCHING = ("the simulated frame is rendered at the real frame's pixel scale and size (its centre, at most 512 px), "
            "with its seeing (the same FWHM measurement on both) and its depth: the sky level over its per-pixel "
            "noise, which sets the noise in mag/arcsec^2 and the 5-sigma depth once the real sky is taken as bright "
            "as the simulated one (the real header has no zero point)")


def workspace_realism(workdir: Path, real: Path | None = None, pixel_scale: float | None = None,
                      out: Path | None = None) -> dict[str, Any]:
    """`openastro realism`: every check on a simulated workspace, written to OUT/realism.json (default
    WORKDIR/realism/), and with `real`, a frame of the workspace's sky rendered to match the real one and a PNG
    of the two side by side."""
    import json

    from openastro.core.catalog import Catalog
    from openastro.core.errors import InputError, WorkspaceError
    from openastro.core.workspace import Workspace
    from openastro.sim.matched import read_real

    if pixel_scale is not None and not 0 < pixel_scale <= MAX_PIXEL_SCALE:
        raise InputError(f"--pixel-scale {pixel_scale:g} is not a pixel scale; give the real frame's arcsec per "
                         f"pixel (above 0, at most {MAX_PIXEL_SCALE:g})")
    real_frame = None if real is None else read_real(Path(real), pixel_scale)
    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path, read_only=True) as catalog:
        galaxies = catalog.query("SELECT * FROM field_galaxies")
        stars = catalog.query("SELECT field_id, ra, dec, mag FROM field_stars")
        sites = catalog.query("SELECT site_id, params FROM sites")
        measured = catalog.query("""SELECT f.site_id, f.filter, m.sky_mag_arcsec2 FROM frame_measurements m
                                    JOIN frames f USING (frame_id) WHERE f.origin = 'sim'""")
        frame = catalog.query("""SELECT s.site_id, s.name, s.lat, s.lon, s.elevation_m, s.timezone, s.params
                                 FROM frames f JOIN sites s USING (site_id) WHERE f.origin = 'sim'
                                 ORDER BY f.mjd LIMIT 1""")
    if frame.empty:
        raise WorkspaceError(f"workspace {ws.root} holds no simulated frames; run `openastro simulate` first")
    checks = galaxy_checks(galaxies) + sky_checks(measured, sites)
    folder = Path(out) if out else ws.root / "realism"
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"workdir": str(ws.root), "checks": [c.to_dict() for c in checks],
                              "passed": sum(c.passed for c in checks), "failed": sum(not c.passed for c in checks)}
    if real_frame is not None:
        result |= matched_realism(real_frame, _site(frame.iloc[0].to_dict()), _population(stars, galaxies), folder)
    (folder / "realism.json").write_text(json.dumps(result, indent=1, default=float))
    return result


def matched_realism(real: Any, site: Any, population: Any, folder: Path) -> dict[str, Any]:
    """The matched frame of `site` and `population` beside the real one: the PNG and the numbers of both."""
    from openastro.sim.matched import match_real

    matched = match_real(real, site, population)
    png = side_by_side(matched, folder / "side_by_side.png")
    return {"side_by_side": str(png),
            "matched": {"how": MATCHING, "site": site.site_id, "band": real.band,
                        "panels": {k: p.to_dict() for k, p in matched.panels.items()},
                        "population": matched.population.to_dict(), "notes": matched.notes}}
