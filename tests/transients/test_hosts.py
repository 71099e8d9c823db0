"""Host association: the nearest galaxy in units of its half-light radius, or none."""

from __future__ import annotations

import numpy as np
import pandas as pd

from openastro.transients.hosts import associate


def test_the_host_is_nearest_in_half_light_radii_not_in_arcsec():
    galaxies = pd.DataFrame({"galaxy_id": [1, 2], "ra": [150.0, 150.0 + 4 / 3600], "dec": [10.0, 10.0],
                             "mag": [16.0, 20.0], "re_arcsec": [6.0, 0.5]})
    cos = np.cos(np.radians(10.0))
    # 3" east of the big galaxy (0.5 r_e) and 1" west of the small one (2 r_e): the big galaxy hosts it
    ra = np.array([150.0 + 3 / 3600 / cos, 150.0 + 4.2 / 3600 / cos, 151.0])
    out = associate(ra, np.array([10.0, 10.0, 10.0]), galaxies)
    assert out["host_id"].tolist()[:2] == [1, 2] and pd.isna(out["host_id"].iloc[2])  # far from both: hostless
    assert np.isclose(out["host_offset_arcsec"].iloc[0], 3.0, atol=0.01)
    assert np.isclose(out["host_offset_re"].iloc[0], 0.5, atol=0.01) and out["host_mag"].iloc[1] == 20.0


def test_no_galaxies_means_no_hosts():
    out = associate(np.array([1.0]), np.array([2.0]), None)
    assert len(out) == 1 and pd.isna(out["host_id"].iloc[0])
