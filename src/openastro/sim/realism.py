"""Realism checks a reviewer can run on a simulated workspace: the sky's numbers against published ones, and a
simulated frame beside a real one at the same angular scale and depth.

Published values (../shared/SIMULATION.md): galaxy counts d log N / dm 0.3-0.45 for r = 18-24, about 10^3 per
deg^2 brighter than r = 20 and 10^4 brighter than 22.5 (SDSS/DES); half-light radii 1-5" at r = 18-20, below 1"
by r = 23; 60-70 % discs, 20-30 % ellipticals; measured dark-sky brightness per site near its catalogue value.
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


def sky_checks(measured: pd.DataFrame, sites: pd.DataFrame, tolerance: float = 1.0) -> list[Check]:
    """Per site, the darkest decile of its frames' measured sky (mag/arcsec^2) against its catalogue dark sky
    (moonlight and twilight only brighten it; `tolerance` mag either way)."""
    checks = []
    for site_id, own in measured.dropna(subset=["sky_mag_arcsec2"]).groupby("site_id"):
        row = sites[sites["site_id"] == site_id]
        dark = _dark_sky(row)
        if dark is None or len(own) < 3:
            continue
        darkest = float(np.quantile(own["sky_mag_arcsec2"], 0.9))
        checks.append(Check(f"{site_id}: darkest measured sky (V mag/arcsec^2)", darkest, dark - tolerance,
                            dark + tolerance, f"site catalogue: {dark:.2f}"))
    return checks


def _dark_sky(row: pd.DataFrame) -> float | None:
    """A site's catalogue dark-sky brightness from its stored parameters."""
    import json

    if row.empty or row["params"].iloc[0] is None:
        return None
    params = json.loads(row["params"].iloc[0])
    return float(params["sky_dark"]) if "sky_dark" in params else None


def side_by_side(simulated: Path, real: Path, out: Path, sim_scale: float, real_scale: float | None) -> Path:
    """A PNG of a simulated frame beside a real one: the simulated frame resampled to the real frame's pixel
    scale (when known) and cut to its size, each shown in units of its own sky noise (the same depth)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.ndimage import zoom

    from openastro.image.fitsio import read_frame

    sim, _ = read_frame(simulated)
    obs, _ = read_frame(real)
    if real_scale:
        sim = zoom(sim, sim_scale / real_scale, order=1)
    rows, cols = min(sim.shape[0], obs.shape[0]), min(sim.shape[1], obs.shape[1])
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4))
    for ax, image, title in ((axes[0], sim[:rows, :cols], f"simulated ({simulated.name})"),
                             (axes[1], obs[:rows, :cols], f"real ({real.name})")):
        ax.imshow(_in_noise_units(image), origin="lower", cmap="gray_r", vmin=-2, vmax=4)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    scale = f"{real_scale:.3g}\"/px" if real_scale else "each at its own pixel scale (pass --pixel-scale)"
    fig.suptitle(f"asinh of (pixel - sky) / sky noise; {scale}", fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def _in_noise_units(image: np.ndarray) -> np.ndarray:
    """asinh of the image above its sky in units of its sky noise (median absolute deviation)."""
    finite = image[np.isfinite(image)]
    sky = float(np.median(finite))
    noise = float(1.4826 * np.median(np.abs(finite - sky))) or 1.0
    return np.arcsinh((image - sky) / noise)


def workspace_realism(workdir: Path, real: Path | None = None, pixel_scale: float | None = None,
                      out: Path | None = None) -> dict[str, Any]:
    """`openastro realism`: every check on a simulated workspace, written to OUT/realism.json (default
    WORKDIR/realism/), and with `real`, a side-by-side PNG of a simulated and the real frame."""
    import json

    from openastro.core.catalog import Catalog
    from openastro.core.errors import InputError, WorkspaceError
    from openastro.core.workspace import Workspace, resolve_path

    if pixel_scale is not None and not 0 < pixel_scale <= MAX_PIXEL_SCALE:
        raise InputError(f"--pixel-scale {pixel_scale:g} is not a pixel scale; give the real frame's arcsec per "
                         f"pixel (above 0, at most {MAX_PIXEL_SCALE:g})")
    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path, read_only=True) as catalog:
        galaxies = catalog.query("SELECT * FROM field_galaxies")
        sites = catalog.query("SELECT site_id, params FROM sites")
        measured = catalog.query("""SELECT f.site_id, m.sky_mag_arcsec2 FROM frame_measurements m
                                    JOIN frames f USING (frame_id) WHERE f.origin = 'sim'""")
        frame = catalog.query("""SELECT f.path, s.params FROM frames f JOIN sites s USING (site_id)
                                 WHERE f.origin = 'sim' ORDER BY f.mjd LIMIT 1""")
    if frame.empty:
        raise WorkspaceError(f"workspace {ws.root} holds no simulated frames; run `openastro simulate` first")
    checks = galaxy_checks(galaxies) + sky_checks(measured, sites)
    folder = Path(out) if out else ws.root / "realism"
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"workdir": str(ws.root), "checks": [c.to_dict() for c in checks],
                              "passed": sum(c.passed for c in checks), "failed": sum(not c.passed for c in checks)}
    if real is not None:
        sim_scale = float(json.loads(frame["params"].iloc[0])["pixel_scale"])
        png = side_by_side(resolve_path(frame["path"].iloc[0], ws.root), Path(real), folder / "side_by_side.png",
                           sim_scale, pixel_scale)
        result["side_by_side"] = str(png)
    (folder / "realism.json").write_text(json.dumps(result, indent=1, default=float))
    return result
