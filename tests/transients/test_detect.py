"""Candidate detection helpers: U-Net components, and the significance groups and matched filter that decide
where the U-Net runs."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.transients.detect import components, significant_groups


def test_components_measure_each_region_as_ndimage_does_on_the_whole_frame():
    from scipy import ndimage

    rng = np.random.default_rng(4)
    prob = ndimage.gaussian_filter(rng.random((120, 150)), 2.0)
    prob = (prob - prob.min()) / np.ptp(prob)
    prob[5:8, 5:40] = np.nan  # missing pixels are no component
    diff = rng.normal(size=prob.shape)
    found = components(prob, diff, threshold=0.6, min_pixels=3)
    labels, n = ndimage.label(np.nan_to_num(prob) >= 0.6)
    index = np.arange(1, n + 1)
    npix = ndimage.sum_labels(np.ones(prob.shape), labels, index)
    keep = npix >= 3
    centres = np.array(ndimage.center_of_mass(np.nan_to_num(prob), labels, index))[keep]
    assert len(found) == keep.sum() > 3
    np.testing.assert_allclose(found[["y", "x"]].to_numpy(), centres, rtol=1e-12)
    np.testing.assert_array_equal(found["npix"], npix[keep])
    np.testing.assert_allclose(found["peak"], ndimage.maximum(np.nan_to_num(prob), labels, index)[keep])
    np.testing.assert_allclose(found["flux"], ndimage.sum_labels(diff, labels, index)[keep], rtol=1e-12)
    assert len(components(np.zeros((10, 10)), np.zeros((10, 10)))) == 0


def test_significant_groups_keep_connected_groups_and_grow_them():
    sig = np.zeros((60, 60))
    sig[10, 10] = 9.0  # a lone pixel: a cosmic-ray hit or noise
    sig[30:32, 40] = -4.0  # two pixels of a fading source...
    sig[32, 41] = -3.5  # ... and a diagonal neighbour: one group of three
    sig[50, 5:7] = 3.2  # two pixels only
    sig[0, 0] = np.nan
    groups = significant_groups(sig, 3.0, min_pixels=3)
    assert groups.sum() == 3 * 2 and groups[30:33, 40:42].all()  # the group's bounding box
    grown = significant_groups(sig, 3.0, min_pixels=3, grow=4)
    assert grown[26:37, 36:46].all() and grown.sum() == 11 * 10
    assert significant_groups(sig, 3.0, min_pixels=2, grow=0)[50, 5:7].all()
    assert not significant_groups(sig, 3.0, min_pixels=1, grow=0)[0, 0]
    assert not significant_groups(np.zeros((8, 8)), 3.0).any()


@pytest.mark.parametrize("sigma", [3.0, 5.0])
def test_noise_alone_makes_almost_no_group(sigma):
    """Gaussian noise has 3-sigma pixels everywhere, but rarely three of them touching."""
    noise = np.random.default_rng(2).normal(size=(512, 512))
    assert (np.abs(noise) >= 3.0).sum() > 500
    assert significant_groups(noise, sigma, min_pixels=3).mean() < 1e-3


def test_the_matched_filter_lifts_a_faint_point_source_above_the_noise():
    """A source at 2.5 sigma in its brightest pixel (FWHM 3 px) sums to ~7 sigma over its PSF; noise does
    not reach 5."""
    from openastro.transients.detect import matched_filter

    rng = np.random.default_rng(3)
    sig = rng.normal(size=(256, 256))
    yy, xx = np.mgrid[:256, :256]
    sig += 2.5 * np.exp(-((xx - 100.3) ** 2 + (yy - 150.6) ** 2) / (2 * (3.0 / 2.3548) ** 2))
    sig[:10] = np.nan
    assert np.nanmax(sig[140:160, 90:110]) < 5.0
    strong = matched_filter(sig, 3.0)
    assert strong[150, 100] > 5.0
    far = np.hypot(xx - 100, yy - 150) > 10
    assert np.std(strong[far]) == pytest.approx(1.0, rel=0.1) and (strong[far] > 5.0).sum() == 0
