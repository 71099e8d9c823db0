"""Light curves: readers, barycentric times, Lomb-Scargle and BLS period search, aliases, folding, features.

Imports only `openastro.core` from the package and never torch; astropy, scipy and nifty-ls load on first use.
"""

from openastro.lightcurve.aliases import Peak
from openastro.lightcurve.batch import lomb_scargle_batch, search_many, search_path
from openastro.lightcurve.choose import choose_method
from openastro.lightcurve.features import features
from openastro.lightcurve.fold import Folded, View, fold, global_view, local_view
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.readers import from_columns, read, read_catalog, read_fits, read_table
from openastro.lightcurve.search import PeriodResult, search
from openastro.lightcurve.timing import sites_from_catalog, to_barycentric

__all__ = [
    "Folded", "LightCurve", "Peak", "PeriodResult", "View", "choose_method", "features", "fold", "from_columns",
    "global_view", "local_view", "lomb_scargle_batch", "read", "read_catalog", "read_fits", "read_table",
    "search", "search_many", "search_path", "sites_from_catalog", "to_barycentric",
]
