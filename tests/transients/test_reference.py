"""Reference stacks: which inputs are stacked, how they are brought to one PSF, and the stored FITS."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from openastro.image.difference import psf_fwhm
from openastro.sim.psf import PSF, add_sources
from openastro.transients.reference import Reference, broaden, build_reference, seeing_matched

SIZE = 128


def test_seeing_matched_keeps_the_sharp_inputs_or_at_least_three():
    assert seeing_matched(np.array([0.95, 0.98, 1.78, 0.97, 0.95])) == [0, 1, 3, 4]
    assert seeing_matched(np.array([2.5, 2.95, 3.3, 3.5])) == [0, 1, 2]  # only two within 1.3x: three sharpest
    assert seeing_matched(np.array([np.nan, 2.0, 2.1])) == [1, 2]
    assert seeing_matched(np.array([np.nan, np.nan])) == [0, 1]


def _stars(fwhm: float, seed: int = 1, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((SIZE, SIZE))
    add_sources(image, PSF(fwhm=fwhm), rng.uniform(15, SIZE - 15, 25), rng.uniform(15, SIZE - 15, 25),
                10 ** rng.uniform(4.0, 5.0, 25))
    return image + rng.normal(0, noise, image.shape) if noise else image


def test_broaden_brings_two_seeings_to_one_psf_conserves_flux_and_keeps_nan():
    sharp, less_sharp = _stars(2.0), _stars(2.6)
    target = psf_fwhm(_stars(3.2))
    sharp[5, 5] = np.nan
    out, _ = broaden(sharp, psf_fwhm(sharp), target)
    other, _ = broaden(less_sharp, psf_fwhm(less_sharp), target)
    assert psf_fwhm(out) == pytest.approx(psf_fwhm(other), rel=0.03)  # one PSF for the median to combine
    assert psf_fwhm(out) > 1.2 * psf_fwhm(sharp)
    image = sharp
    assert np.nansum(out) == pytest.approx(np.nansum(image), rel=0.01)
    assert np.isnan(out[5, 5]) and np.isfinite(out[50, 50])
    white = np.random.default_rng(2).normal(0, 1.0, (256, 256))
    smoothed, white_factor = broaden(white, 2.0, 3.0)
    assert np.std(smoothed[20:-20, 20:-20]) == pytest.approx(white_factor, rel=0.05)
    assert broaden(image, 3.0, 3.0)[1] == 1.0  # nothing to do


def test_reference_drops_the_blurred_input_and_is_stacked_at_the_broadest_kept_psf(tmp_path):
    paths = []
    for i, fwhm in enumerate((2.0, 2.2, 4.5, 2.4)):  # the third was taken in bad seeing
        path = tmp_path / f"t{i}.fits"
        header = fits.Header({"EXPTIME": 60.0, "GAIN": 1.0})
        fits.PrimaryHDU((_stars(fwhm, noise=3.0, seed=1) + 100.0).astype(np.float32), header).writeto(path)
        paths.append(path)
    ref = build_reference(paths)
    assert [Path(p).name for p in ref.combined] == ["t0.fits", "t1.fits", "t3.fits"]
    assert ref.fwhm == pytest.approx(psf_fwhm(_stars(2.4)), rel=0.08)
    stored = Reference.load(ref.save(tmp_path / "ref.fits"))
    assert len(stored.files) == 4 and len(stored.combined) == 3
    assert fits.getheader(tmp_path / "ref.fits")["NCOMBINE"] == 3


def test_two_input_reference_drops_a_cosmic_ray_that_a_plain_median_would_halve(tmp_path):
    from openastro.image.stack import median_stack
    from openastro.transients.reference import reject_light_in_one

    rng = np.random.default_rng(5)
    stars = _stars(2.4)
    a, b = stars + rng.normal(0, 3.0, stars.shape), stars + rng.normal(0, 3.0, stars.shape)
    a[40:42, 70:73] += 4000.0  # a cosmic ray in the first input only, on empty sky
    a_kept, b_kept = reject_light_in_one([a, b], [9.0, 9.0], gain=1.0)
    assert np.isnan(a_kept[40:42, 70:73]).all() and np.isfinite(b_kept[40:42, 70:73]).all()
    assert np.isnan(a_kept).sum() < 30 and np.isnan(b_kept).sum() < 10  # stars agree: kept in both
    plain = median_stack([a, b]).data
    assert plain[40:42, 70:73].sum() > 0.4 * 6 * 4000.0  # a median of two is their mean: half the ray stays
    paths = []
    for name, image in (("t0.fits", a), ("t1.fits", b)):
        fits.PrimaryHDU((image + 100.0).astype(np.float32), fits.Header({"EXPTIME": 60.0, "GAIN": 1.0})
                        ).writeto(tmp_path / name)
        paths.append(tmp_path / name)
    ref = build_reference(paths)
    assert abs(ref.data[39:43, 69:74].sum()) < 200.0  # sky-level: the ray is gone from the reference
    star = np.unravel_index(np.argmax(stars), stars.shape)
    box = (slice(star[0] - 4, star[0] + 5), slice(star[1] - 4, star[1] + 5))
    assert ref.data[box].sum() == pytest.approx(stars[box].sum(), rel=0.05)  # the brightest star is intact
