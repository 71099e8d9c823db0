"""Tonight's queries as follow-up requests: fit the classifier on the broker objects labelled so far, rank the
unlabelled ones the network can still classify by the strategy, give each to the telescope that takes it
fastest within its spectroscopic hours, and write them into the catalog's `requests` table for the scheduler."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from openastro.active import classifiers
from openastro.active.etc import exposure_time, query_cost
from openastro.active.loop import LoopConfig
from openastro.active.pools import LightCurvePool
from openastro.active.timedomain import NightPlan, features_matrix, plan_night
from openastro.core.errors import InputError
from openastro.sim.sites import Site

JD_MJD = 2400000.5
SOURCE = "active-learning"


def plan_queries(pool: LightCurvePool, config: LoopConfig, plan: NightPlan, telescopes: Sequence[Site],
                 positive: str | None = None) -> list[dict[str, Any]]:
    """The queries for the night after the pool's latest detection, best first, each with its telescope."""
    labelled = pool.labelled
    names = sorted(set(pool.labels[labelled].tolist()))
    if len(names) < 2:
        raise InputError(f"{pool.source}: {int(labelled.sum())} labelled objects of {len(names)} class(es); the "
                         "classifier needs labels of at least two classes (pass --labels CSV)")
    y = (pool.labels == positive).astype(int) if positive else np.searchsorted(names, pool.labels)
    x = features_matrix(pool.points, pool.ids)
    last_seen, mag = pool.last_detection()
    now = float(np.max(last_seen))
    cost = np.column_stack([query_cost(mag, site, plan.spectrograph) for site in telescopes])
    open_rows = np.flatnonzero(~labelled & (last_seen > now - plan.recent) & np.isfinite(cost).any(axis=1))
    if not len(open_rows):
        return []
    k = 2 if positive else len(names)
    model = classifiers.fit(config.classifier, x[labelled], y[labelled], config.seed)
    chosen = plan_night(config, model, x[labelled], y[labelled], x[open_rows], cost[open_rows], k, plan,
                        np.random.default_rng([config.seed, 2]), np.random.default_rng([config.seed, 3]))
    out = []
    for rank, (c, t) in enumerate(chosen):
        row, site = open_rows[c], telescopes[t]
        exposure = float(exposure_time(mag[row], site, plan.spectrograph))
        out.append({"object_id": str(pool.ids[row]), "site_id": site.site_id, "rank": rank + 1,
                    "mag": round(float(mag[row]), 3), "exposure_s": round(exposure, 1),
                    "seconds": round(float(cost[row, t]), 1), "window_start_mjd": now - JD_MJD,
                    "window_end_mjd": now - JD_MJD + plan.recent,
                    "priority": round(1.0 - rank / max(len(chosen), 1), 4)})
    return out


def write_requests(workdir: Path | str, queries: list[dict[str, Any]], strategy: str,
                   positions: dict[str, tuple[float, float]]) -> int:
    """Insert the queries into the catalog's `requests` (re-planning the same object and night replaces its row)."""
    from openastro.core.catalog import Catalog
    from openastro.core.workspace import Workspace

    created = datetime.now(UTC).replace(tzinfo=None)
    rows = [{"request_id": f"al-{q['object_id']}-{int(q['window_start_mjd'])}", "object_id": q["object_id"],
             "name": q["object_id"], "ra": positions.get(q["object_id"], (None, None))[0],
             "dec": positions.get(q["object_id"], (None, None))[1], "site_id": q["site_id"], "kind": "spectrum",
             "filter": None, "exposure_s": q["exposure_s"], "repeats": 1,
             "window_start_mjd": q["window_start_mjd"], "window_end_mjd": q["window_end_mjd"],
             "priority": q["priority"], "max_airmass": 2.0, "source": SOURCE,
             "reason": f"{strategy} query #{q['rank']} (mag {q['mag']})", "status": "pending",
             "created_at": created, "details": json.dumps({"mag": q["mag"], "seconds": q["seconds"],
                                                           "strategy": strategy})} for q in queries]
    if not rows:
        return 0
    with Catalog(Workspace.open(workdir).catalog_path) as catalog, catalog.transaction():
        return catalog.insert("requests", rows, replace=True)


def positions_of(workdir: Path | str, ids: list[str]) -> dict[str, tuple[float, float]]:
    """(ra, dec) of broker objects from the alert store."""
    from openastro.alerts.store import AlertStore

    with AlertStore.at(workdir, read_only=True) as store:
        frame = store.query("SELECT objectId, ra, dec FROM objects WHERE objectId IN (SELECT unnest($1))", [ids])
    return {str(r.objectId): (float(r.ra), float(r.dec)) for r in frame.itertuples()}
