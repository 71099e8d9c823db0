"""Sky brightness (dark sky, Moon after Krisciunas & Schaefer 1991, twilight), extinction and scintillation."""

from __future__ import annotations

import numpy as np

TWILIGHT_MAG_PER_DEG = 0.6  # sky brightening per degree of Sun altitude above -18 deg


def mag_to_nl(mag: np.ndarray | float) -> np.ndarray:
    """V surface brightness (mag/arcsec^2) to nanoLamberts."""
    return 34.08 * np.exp(20.7233 - 0.92104 * np.asarray(mag, dtype=float))


def nl_to_mag(nl: np.ndarray | float) -> np.ndarray:
    """nanoLamberts to V surface brightness (mag/arcsec^2)."""
    return (20.7233 - np.log(np.asarray(nl, dtype=float) / 34.08)) / 0.92104


def ks_airmass(zenith_deg: np.ndarray) -> np.ndarray:
    """The airmass of the scattering layer used by Krisciunas & Schaefer."""
    return (1 - 0.96 * np.sin(np.radians(zenith_deg)) ** 2) ** -0.5


def moon_sky_nl(phase_angle: np.ndarray, sep_deg: np.ndarray, moon_alt: np.ndarray, target_alt: np.ndarray,
                k: np.ndarray | float) -> np.ndarray:
    """Scattered moonlight at the target (nL); zero when the Moon is below the horizon."""
    alpha = np.abs(phase_angle)
    illum = 10 ** (-0.4 * (3.84 + 0.026 * alpha + 4e-9 * alpha**4))  # Moon illuminance, K&S eq. 20
    rho = np.radians(sep_deg)
    scatter = 10**5.36 * (1.06 + np.cos(rho) ** 2) + 10 ** (6.15 - sep_deg / 40.0)
    x_moon = ks_airmass(90.0 - np.clip(moon_alt, 0, 90))
    x_target = ks_airmass(90.0 - np.clip(target_alt, 0, 90))
    nl = scatter * illum * 10 ** (-0.4 * k * x_moon) * (1 - 10 ** (-0.4 * k * x_target))
    return np.where(moon_alt > 0, nl, 0.0)


def dark_sky_nl(zenith_mag: np.ndarray | float, target_alt: np.ndarray, k: np.ndarray | float) -> np.ndarray:
    """Moonless night sky at the target (nL): brighter towards the horizon (van Rhijn), dimmed by extinction."""
    x = ks_airmass(90.0 - np.clip(target_alt, 0, 90))
    return mag_to_nl(zenith_mag) * x * 10 ** (-0.4 * k * (x - 1))


def twilight_nl(zenith_mag: np.ndarray | float, sun_alt: np.ndarray) -> np.ndarray:
    """Twilight added to the night sky (nL): zero below -18 deg, rising about 0.6 mag per degree above."""
    rise = 10 ** (0.4 * TWILIGHT_MAG_PER_DEG * (np.asarray(sun_alt) + 18.0)) - 1.0
    return mag_to_nl(zenith_mag) * np.clip(rise, 0.0, None)


def sky_mag(zenith_mag: np.ndarray | float, k: np.ndarray | float, target_alt: np.ndarray, sun_alt: np.ndarray,
            moon_alt: np.ndarray, moon_phase_angle: np.ndarray, moon_sep: np.ndarray) -> np.ndarray:
    """Sky surface brightness (V mag/arcsec^2) at the target from night sky, Moon and twilight."""
    nl = (dark_sky_nl(zenith_mag, target_alt, k) + twilight_nl(zenith_mag, sun_alt)
          + moon_sky_nl(moon_phase_angle, moon_sep, moon_alt, target_alt, k))
    return nl_to_mag(nl)


def scintillation_sigma(aperture_m: float, airmass: np.ndarray | float, elevation_m: float,
                        exposure_s: float) -> np.ndarray:
    """Young's (1967) relative flux scatter from scintillation."""
    d_cm = aperture_m * 100.0
    return 0.09 * d_cm ** (-2 / 3) * np.asarray(airmass) ** 1.75 * np.exp(-elevation_m / 8000.0) / np.sqrt(
        2 * exposure_s)


def e_per_second(mag: np.ndarray | float, zero_point: np.ndarray | float) -> np.ndarray:
    """Electrons per second from a magnitude and the zero point (mag giving 1 e-/s)."""
    return 10 ** (-0.4 * (np.asarray(mag) - np.asarray(zero_point)))
