"""Master bias, dark and flat: the reduction itself, their registration at ingest, and why differencing needs
them (a vignetted camera under a bright sky)."""

import numpy as np
import pytest
from astropy.io import fits

from openastro.core.catalog import Catalog
from openastro.core.errors import InputError
from openastro.core.workspace import Workspace
from openastro.image.masters import Masters, load_masters, master_kind
from openastro.pipeline.ingest import ingest

SIZE = 128


def _write(path, data, **cards):
    header = fits.Header()
    for key, value in cards.items():
        header[key.replace("_", "-")] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.asarray(data, np.float32), header).writeto(path, overwrite=True)
    return path


def _vignetting(strength=0.3):
    c = (SIZE - 1) / 2
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return 1.0 - strength * ((xx - c) ** 2 + (yy - c) ** 2) / (2 * c * c)


def _masters(tmp_path, flat_scale=1000.0):
    """Master files of a camera: bias 500 ADU, dark 0.5 ADU/s with a hot column, vignetted flat (in ADU)."""
    dark = np.full((SIZE, SIZE), 0.5 * 60)
    dark[:, 40] += 300.0
    return {"bias": _write(tmp_path / "cal" / "bias.fits", np.full((SIZE, SIZE), 500.0), IMAGETYP="BIAS",
                           OBSERVAT="Test Obs", EXPTIME=0.0),
            "dark": _write(tmp_path / "cal" / "dark.fits", dark, IMAGETYP="DARK", OBSERVAT="Test Obs", EXPTIME=60.0),
            "flat": _write(tmp_path / "cal" / "flat.fits", _vignetting() * flat_scale, IMAGETYP="FLAT",
                           OBSERVAT="Test Obs", EXPTIME=2.0)}


def test_reduce_removes_bias_scaled_dark_and_normalised_flat(tmp_path):
    masters = load_masters(_masters(tmp_path, flat_scale=3000.0))
    sky = np.full((SIZE, SIZE), 1000.0)
    dark_30s = np.full((SIZE, SIZE), 0.5 * 30)
    dark_30s[:, 40] += 150.0
    flat = _vignetting() / np.median(_vignetting())
    raw = sky * flat + 500.0 + dark_30s
    out = masters.reduce(raw, exptime=30.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, sky, rtol=1e-5)  # flat renormalised to median 1, dark scaled 60 s -> 30 s


def test_dead_flat_pixels_become_nan_and_a_wrong_shape_is_refused(tmp_path):
    paths = _masters(tmp_path)
    flat = _vignetting() * 1000.0
    flat[10, 10] = 0.0
    paths["flat"] = _write(tmp_path / "cal2" / "flat.fits", flat, IMAGETYP="FLAT")
    masters = load_masters(paths)
    out = masters.reduce(np.full((SIZE, SIZE), 700.0), exptime=60.0)
    assert np.isnan(out[10, 10]) and np.isfinite(out).sum() == SIZE * SIZE - 1
    raw = np.full((SIZE, SIZE), 700.0)
    raw[50:53, 60] = 65535.0
    saturated = np.isnan(masters.reduce(raw, exptime=60.0, saturation=65535.0))
    assert saturated.sum() == 4 and saturated[50:53, 60].all()  # the bleed column and the dead pixel
    with pytest.raises(InputError, match="differs from the master bias"):
        masters.reduce(np.zeros((64, 64)), exptime=60.0, where="small.fits")


def test_master_kind_reads_common_imagetyp_values():
    assert [master_kind(t) for t in ("Bias Frame", "BIAS", "zero", "Dark", "FLAT", "Master_Flat", "Light Frame",
                                     "object", None)] == ["bias", "bias", "bias", "dark", "flat", "flat", None,
                                                          None, None]


def test_ingest_registers_masters_for_their_site_not_as_frames(tmp_path):
    paths = _masters(tmp_path)
    _write(tmp_path / "cal" / "orphan_flat.fits", _vignetting(), IMAGETYP="FLAT")
    ws = Workspace.open(tmp_path / "ws")
    with Catalog(ws.catalog_path) as cat:
        report = ingest([tmp_path / "cal"], cat)
        rows = cat.query("SELECT site_id, kind, path, exptime FROM calibration ORDER BY kind")
        assert cat.count("frames") == 0
    assert len(report.calibration) == 3 and len(report.rejected) == 1
    assert "orphan_flat.fits" in report.rejected[0][0] and "OBSERVAT" in report.rejected[0][1]
    assert rows["kind"].tolist() == ["bias", "dark", "flat"] and set(rows["site_id"]) == {"test-obs"}
    assert rows.set_index("kind").loc["dark", "exptime"] == 60.0
    assert rows.set_index("kind").loc["flat", "path"].endswith(paths["flat"].name)


def _stars(rng, n=40):
    return rng.uniform(12, SIZE - 12, n), rng.uniform(12, SIZE - 12, n), 10 ** rng.uniform(3.5, 4.7, n)


def _render(xs, ys, fluxes, fwhm):
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    s = fwhm / 2.3548
    img = np.zeros((SIZE, SIZE))
    for x, y, f in zip(xs, ys, fluxes, strict=True):
        img += f / (2 * np.pi * s * s) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s))
    return img


def test_differencing_a_vignetted_camera_under_a_bright_sky_needs_the_flat(tmp_path):
    from openastro.transients.reference import build_reference
    from openastro.transients.search import difference_frame

    rng = np.random.default_rng(3)
    xs, ys, fluxes = _stars(rng)
    flat, bias = _vignetting(), 500.0
    paths = _masters(tmp_path)
    cards = {"EXPTIME": 60.0, "GAIN": 1.0}

    def raw(sky, scale, fwhm):
        electrons = sky + scale * _render(xs, ys, fluxes, fwhm)
        return rng.poisson(electrons * flat).astype(float) + bias + 30.0 + rng.normal(0, 5, (SIZE, SIZE))

    ref_path = _write(tmp_path / "ref.fits", raw(200.0, 1.0, 2.5), **cards)
    sci_path = _write(tmp_path / "sci.fits", raw(3000.0, 0.6, 3.2), **cards)  # moonlit, thin cloud
    residual = {"raw": np.inf}  # without the flat the fit is refused, or leaves residuals at every star
    for label, masters in (("raw", None), ("reduced", {k: str(p) for k, p in paths.items()})):
        try:
            frame = difference_frame(sci_path, build_reference([ref_path], masters), masters=masters)
        except InputError:
            assert label == "raw"
            continue
        d = frame.difference
        import sep  # the stars' flux left in the difference, as a fraction of their flux in the science

        left, _, _ = sep.sum_circle(np.ascontiguousarray(np.nan_to_num(d.diff), dtype=np.float64), xs, ys, 6.0)
        bright = fluxes > 2e4  # aperture noise is under 3 % of their flux
        residual[label] = float(np.median(np.abs(left[bright]) / (0.6 * fluxes[bright])))
        if masters:
            assert abs(d.scale - 0.6) < 0.05  # the cloud's throughput, with the flat removed
    assert residual["reduced"] < 0.05 and residual["raw"] > 10 * residual["reduced"]


def test_masters_without_any_frame_leave_data_unchanged():
    data = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert Masters().empty
    np.testing.assert_array_equal(Masters().reduce(data, 10.0), data)
