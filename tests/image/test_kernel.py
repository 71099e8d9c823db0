"""The Alard-Lupton basis as separable factors, and the stamps' convolutions computed from them."""

from __future__ import annotations

import numpy as np
import pytest

from openastro.image.kernel import BASIS_DEGREES, BASIS_WIDTHS, al_basis, al_factors, separable_convolutions


def test_the_factors_make_the_gaussian_times_polynomial_basis():
    half, sigma = 7, 1.3
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    u, v = offsets[None, :] / half, offsets[:, None] / half
    expected = []
    for width, degree in zip(BASIS_WIDTHS, BASIS_DEGREES, strict=True):
        gauss = np.exp(-(offsets[None, :] ** 2 + offsets[:, None] ** 2) / (2.0 * (width * sigma) ** 2))
        for i in range(degree + 1):
            for j in range(degree + 1 - i):
                term = gauss * u**i * v**j
                expected.append(term / np.sqrt((term**2).sum()))
    basis = al_basis(half, sigma)
    assert basis.shape == (49, 15, 15)
    np.testing.assert_allclose(basis, np.asarray(expected), rtol=0, atol=1e-12)
    x, y = al_factors(half, sigma)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0)


@pytest.mark.parametrize(("half", "size"), [(4, 21), (9, 45)])
def test_separable_convolutions_equal_scipys_fft_convolution(half, size):
    from scipy.signal import fftconvolve

    images = np.random.default_rng(half).normal(100.0, 30.0, (5, size, size))
    x, y = al_factors(half, 1.7)
    ours = separable_convolutions(images, x, y)
    fft = fftconvolve(images[:, None], al_basis(half, 1.7)[None], mode="valid", axes=(2, 3))
    assert ours.shape == fft.shape == (5, 49, size - 2 * half, size - 2 * half)
    np.testing.assert_allclose(ours, fft, rtol=0, atol=1e-9 * np.abs(fft).max())
