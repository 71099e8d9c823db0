"""Keep astropy (and friends) from reaching for the internet: the pipeline runs offline."""

import os

_done = False


def configure() -> None:
    """Switch off IERS and data downloads; idempotent and cheap after the first call."""
    global _done
    if _done:
        return
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from astropy.utils import iers
    from astropy.utils.data import conf as data_conf

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    data_conf.allow_internet = False
    _done = True
