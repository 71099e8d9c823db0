"""Light curves: readers, barycentric times, Lomb-Scargle and BLS period search, aliases, folding, features.

`LightCurve` chains like lightkurve: `LightCurve.read(path).fold(period).bin(minutes=10).plot()`. A field's
light curves for the pipeline (fusion, search, candidates, periodograms) are in `openastro.lightcurve.field`.
Imports only `openastro.core` from the package and never torch; astropy, scipy, pandas, matplotlib and
nifty-ls load on first use.
"""

from openastro.lightcurve.aliases import Peak
from openastro.lightcurve.batch import lomb_scargle_batch, search_many, search_path
from openastro.lightcurve.choose import choose_method
from openastro.lightcurve.features import features
from openastro.lightcurve.fold import Folded, FoldedLightCurve, View, fold, global_view, local_view
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.readers import (
    from_columns,
    from_fused,
    read,
    read_catalog,
    read_fits,
    read_fused,
    read_table,
)
from openastro.lightcurve.search import PeriodResult, search
from openastro.lightcurve.timing import sites_from_catalog, to_barycentric

__all__ = [
    "Folded", "FoldedLightCurve", "LightCurve", "Peak", "PeriodResult", "View", "choose_method", "features",
    "fold", "from_columns", "from_fused", "global_view", "local_view", "lomb_scargle_batch", "read",
    "read_catalog", "read_fits", "read_fused", "read_table", "search", "search_many", "search_path",
    "sites_from_catalog", "to_barycentric",
]
