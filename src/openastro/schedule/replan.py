"""Replanning mid-night: when the forecast changes or a target of opportunity arrives, keep every block already
done or under way and dispatch the rest of the night again.

The grid is reused, not rebuilt: a new forecast recomputes only P(ok) and the value (`with_forecast`), new
requests add rows built on the same slot edges (`extend`; the Sun and Moon are recomputed for their edges, the
targets' ephemerides only for the new rows). Then `dispatch(..., start_mjd=now, kept=...)`: the kept blocks count
as done, their telescopes stay busy until they end, nothing starts before `now`.

    plan = dispatch(grid)
    later = replan(plan, now_mjd, forecast=clouds_at_one_site, add=[Request("GRB", ra=..., dec=..., priority=50)])
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from openastro.schedule.constraints import build_grid, extend, with_forecast
from openastro.schedule.dispatcher import EPS, Block, Plan, dispatch
from openastro.schedule.requests import Request
from openastro.schedule.weather import Forecast


def kept_blocks(plan: Plan, now_mjd: float) -> list[Block]:
    """The plan's blocks that have started by `now` (done, or under way and left to finish)."""
    return [b for b in plan.blocks if b.start_mjd < now_mjd - EPS]


def replan(plan: Plan, now_mjd: float, forecast: Forecast | None = None, add: Sequence[Request] = ()) -> Plan:
    """The rest of the night from `now_mjd` under `forecast` (None: the plan's own), with the requests `add`
    (a target of opportunity: e.g. a high priority, or `Constraints(time_critical=True)`) appended after the
    plan's; the blocks started before `now` are kept unchanged."""
    began = time.perf_counter()
    grid = plan.grid
    if forecast is not None:
        grid = with_forecast(grid, forecast)
    if add:
        more = build_grid(list(add), grid.sites, grid.night, grid.settings, grid.forecast, edges=grid.edges)
        grid = extend(grid, more)
    kept = kept_blocks(plan, now_mjd)
    out = dispatch(grid, plan.overheads, start_mjd=now_mjd, kept=kept, align=bool(plan.info.get("aligned")))
    out.info.update(replanned_at=now_mjd, kept=len(kept), added=len(add))
    out.wall_s = time.perf_counter() - began
    return out
