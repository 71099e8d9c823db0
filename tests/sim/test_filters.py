"""Several filters: each site observes the configured bands its filter wheel holds, in turn; sky, extinction and
zero point follow the band; stars, galaxies and transients have colours; the reference catalogue lists each band."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from openastro.core.config import load_config
from openastro.core.errors import ConfigError
from openastro.sim import simulate
from openastro.sim.bands import BANDS, star_offset
from openastro.sim.sites import select_sites
from openastro.sim.transients import Transient

TINY = ["sim.frame_size=64", "sim.stars_per_field=60", "sim.max_frames_per_site=9", "sim.weather=false",
        "sim.n_fields=1", "sim.template_frames=0", "sim.galaxies.density=0.3",
        "sim.sites=['Siding Spring', 'Mount Abu']"]


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    out = tmp_path_factory.mktemp("bands") / "out"
    cfg = load_config(overrides=TINY)
    simulate(cfg.sim, out)
    return cfg, out


def test_default_is_g_r_i_and_each_site_uses_its_own_wheel(sky):
    cfg, out = sky
    assert cfg.sim.filters == ["g", "r", "i"]
    frames = pd.read_parquet(out / "truth" / "frames.parquet")
    used = frames.groupby("site_id")["filter"].agg(set).to_dict()
    assert used == {"siding-spring": {"g", "r", "i"}, "mount-abu": {"g", "r"}}  # Mount Abu holds g and r only
    # one band per visit, in turn: g r i g r i ...
    ssp = frames[frames["site_id"] == "siding-spring"].sort_values("mjd")["filter"].tolist()
    assert ssp == ["g", "r", "i"] * (len(ssp) // 3) + ["g", "r", "i"][:len(ssp) % 3]
    for row in frames.itertuples():
        with fits.open(out / row.file) as hdul:
            assert hdul[0].header["FILTER"] == row.filter


def test_sky_extinction_and_zero_point_follow_the_band(sky):
    _, out = sky
    frames = pd.read_parquet(out / "truth" / "frames.parquet")
    site = select_sites(["Siding Spring"])[0]
    own = frames[frames["site_id"] == site.site_id]
    for band, rows in own.groupby("filter"):
        b = BANDS[band]
        # above the atmosphere: the site's V zero point plus the band's offset (and the slow drift, < 0.1 mag)
        assert np.allclose(rows["zp_instrument"], site.zero_point + b.zero_point_offset, atol=0.1)
        k = (rows["zp_instrument"] - rows["zero_point"]) / rows["airmass"]  # clear skies: extinction alone
        assert np.allclose(k, site.extinction * b.extinction_ratio, rtol=1e-6)
    sky_by_band = own.groupby("filter")["sky_mag_arcsec2"].median()
    assert sky_by_band["g"] > sky_by_band["r"] > sky_by_band["i"]  # the night sky is redder than the stars
    assert 1.0 < sky_by_band["g"] - sky_by_band["i"] < 3.0


def test_stars_have_colours_in_the_catalogue_and_in_the_pixels(sky):
    _, out = sky
    ref = pd.read_parquet(out / "reference" / "field_stars.parquet")
    assert {"mag_g", "mag_r", "mag_i"} <= set(ref.columns)
    red = ref["color"] > 1.0  # red stars are fainter in g than in i
    assert ((ref["mag_g"] - ref["mag_i"])[red] > 0.8).all()
    truth = pd.read_parquet(out / "truth" / "stars.parquet").set_index("star_id")
    flux = pd.read_parquet(out / "truth" / "star_flux.parquet")
    frames = pd.read_parquet(out / "truth" / "frames.parquet").set_index("file")
    flux = flux.assign(filter=frames.loc[flux["file"], "filter"].to_numpy())
    constant = flux[truth.loc[flux["star_id"], "class"].to_numpy() == "constant"]
    for band, rows in constant.groupby("filter"):
        v = truth.loc[rows["star_id"]]
        expected = v["mag"].to_numpy() + star_offset(band, v["color"].to_numpy())
        assert np.allclose(rows["true_mag"], expected) and np.allclose(rows["mean_mag"], expected)


def test_transients_change_colour():
    ia = Transient("T", "supernova", "SN Ia", "F01", 0.0, 0.0, t_ref=100.0, peak_mag=17.0, rise_days=4.0,
                   decline=30.0, z=0.03, abs_mag=-19.3, g_r=-0.05, g_ratio=0.7)
    t = np.array([100.0, 130.0])
    g_r = ia.band_mag(t, "g") - ia.band_mag(t, "r")
    assert abs(g_r[0] + 0.05) < 0.01 and g_r[1] - g_r[0] > 0.3  # blue at peak, redder a month later
    assert ia.mag(np.array([100.0]))[0] == pytest.approx(17.0)  # peak_mag is the peak in V


def test_a_band_no_site_holds_is_refused_naming_the_site(tmp_path):
    cfg = load_config(overrides=[*TINY, "sim.filters=['i']"])
    with pytest.raises(ConfigError, match="Mount Abu.*holds none of i"):
        simulate(cfg.sim, tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown band 'H'"):
        load_config(overrides=["sim.filters=['g', 'H']"])


def test_pulsators_vary_more_in_g_than_in_i(tmp_path):
    cfg = load_config(overrides=[*TINY, "sim.sites=['Siding Spring']", "sim.variability.rrlyrae=0.9",
                                 "sim.stars_per_field=50", "sim.galaxies.enabled=false", "sim.max_frames_per_site=12"])
    simulate(cfg.sim, tmp_path)
    truth = pd.read_parquet(tmp_path / "truth" / "stars.parquet").set_index("star_id")
    flux = pd.read_parquet(tmp_path / "truth" / "star_flux.parquet")
    frames = pd.read_parquet(tmp_path / "truth" / "frames.parquet").set_index("file")
    flux = flux.assign(filter=frames.loc[flux["file"], "filter"].to_numpy(),
                       dmag=(flux["true_mag"] - flux["mean_mag"]).abs())
    rr = flux[truth.loc[flux["star_id"], "class"].to_numpy() == "rrlyrae"]
    mean = rr.groupby("filter")["dmag"].mean()
    assert rr["star_id"].nunique() >= 20 and mean["g"] > 1.3 * mean["i"]  # 1.2 / 0.7 of V's amplitude
