"""Many light curves: batched nifty-ls over series sharing their times, and a Dask-friendly per-file function."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from openastro.core.errors import OpenAstroError
from openastro.lightcurve import periodogram as pgm
from openastro.lightcurve.choose import choose_method
from openastro.lightcurve.grid import Grid, ls_grid
from openastro.lightcurve.model import LightCurve
from openastro.lightcurve.readers import read
from openastro.lightcurve.search import PeriodResult, search
from openastro.lightcurve.settings import resolve_config

BATCH_BYTES = 512 * 2**20  # memory for one nifty-ls batched call; larger batches are split


def shared_grid(lcs: Sequence[LightCurve], config: Any = None) -> Grid:
    """One grid covering every light curve's own grid: lowest fmin, highest fmax, finest step."""
    cfg = resolve_config(config)
    grids = [ls_grid(lc.time, cfg, lc.source or lc.name) for lc in lcs]
    fmin, fmax, df = min(g.fmin for g in grids), max(g.fmax for g in grids), min(g.df for g in grids)
    n = min(int(np.floor((fmax - fmin) / df)) + 1, cfg.max_grid)
    return Grid(fmin=fmin, df=(fmax - fmin) / (n - 1), n=n)


def _groups(lcs: Sequence[LightCurve]) -> list[list[int]]:
    """Indices of light curves grouped by identical time arrays (one nifty-ls batch each)."""
    groups: dict[tuple[int, bytes], list[int]] = {}
    for i, lc in enumerate(lcs):
        groups.setdefault((len(lc), lc.time.tobytes()), []).append(i)
    return list(groups.values())


def lomb_scargle_batch(lcs: Sequence[LightCurve], grid: Grid | None = None,
                       config: Any = None) -> tuple[Grid, np.ndarray]:
    """LS power on one grid, shape (n_curves, n_freq): one nifty-ls call per shared time array (e.g. a field)."""
    # nifty-ls 1.1 batches only series with identical times; other curves take one call each on the same grid.
    cfg = resolve_config(config)
    lcs = [lc.sorted() for lc in lcs]
    grid = grid or shared_grid(lcs, cfg)
    power = np.empty((len(lcs), grid.n))
    rows = max(1, int(BATCH_BYTES // (48 * grid.n)))  # nifty-ls holds about three complex rows per series
    for group in _groups(lcs):
        for start in range(0, len(group), rows):
            chunk = group[start:start + rows]
            pairs = [pgm.standardize(lcs[i].values, lcs[i].err) for i in chunk]
            y = np.stack([p[0] for p in pairs])
            dy = np.stack([pgm.usable_errors(p[1]) for p in pairs])
            power[chunk] = pgm.nifty_power(lcs[chunk[0]].time, y, dy, grid, cfg.ls_threads)
    return grid, power


def search_many(lcs: Sequence[LightCurve], method: str | None = None, top: int | None = None,
                config: Any = None) -> list[PeriodResult]:
    """Search many light curves; the Lomb-Scargle ones that share times run as one nifty-ls batch."""
    cfg = resolve_config(config)
    lcs = [lc.sorted() for lc in lcs]
    chosen = [choose_method(lc, cfg) if (method or cfg.method) == "auto" else (method or cfg.method, None)
              for lc in lcs]
    ls_idx = [i for i, (m, _) in enumerate(chosen) if m == "ls"]
    pgs: dict[int, pgm.Periodogram] = {}
    for group in _groups([lcs[i] for i in ls_idx]):
        members = [ls_idx[g] for g in group]
        grid = ls_grid(lcs[members[0]].time, cfg, lcs[members[0]].source)
        _, power = lomb_scargle_batch([lcs[i] for i in members], grid, cfg)
        pgs.update({i: pgm.from_power(lcs[i], power[k], grid, cfg.ls_threads) for k, i in enumerate(members)})
    results = []
    for i, lc in enumerate(lcs):
        result = search(lc, method=chosen[i][0], top=top, config=cfg, periodogram=pgs.get(i))
        result.reason = chosen[i][1] or result.reason
        results.append(result)
    return results


def search_path(path: str | Path, method: str | None = None, top: int | None = None, config: Any = None,
                plot_dir: str | Path | None = None, flux_column: str = "PDCSAP_FLUX") -> dict[str, Any]:
    """Read and search one file; a plain dict, or {'file', 'error'} for a bad file (for dask.bag.map, client.map)."""
    try:
        lc = read(path, flux_column=flux_column)
        result = search(lc, method=method, top=top, config=config)
        out = result.to_dict()
        out["file"] = str(path)
        if plot_dir is not None:
            from openastro.lightcurve.plot import plot_result

            out["plot"] = str(plot_result(lc, result, Path(plot_dir), config))
        return out
    except OpenAstroError as exc:
        return {"file": str(path), "error": str(exc)}


def search_files(paths: Iterable[str | Path], method: str | None = None, top: int | None = None,
                 config: Any = None, plot_dir: str | Path | None = None, client: Any = None) -> list[dict[str, Any]]:
    """search_path over many files, in order; on a Dask `client` (client.map) when one is given."""
    paths = [str(p) for p in paths]
    cfg = resolve_config(config)
    if client is not None:
        futures = client.map(search_path, paths, method=method, top=top, config=cfg, plot_dir=plot_dir, pure=False)
        return client.gather(futures)
    return [search_path(p, method=method, top=top, config=cfg, plot_dir=plot_dir) for p in paths]
