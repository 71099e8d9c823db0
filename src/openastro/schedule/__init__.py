"""Scheduling the network (issue 18): requests and their constraints, the night grid every scheduler reads,
overheads, forecasts, the fast dispatcher, the integer program and replanning.

    from openastro.schedule import Request, build_grid, dispatch, replan, solve, to_json
    grid = build_grid([Request("M42", ra=83.82, dec=-5.39, priority=5)], load_sites(), "2026-03-20")
    plan = dispatch(grid)
    to_json(plan)["scheduled"]
    best = solve(grid, time_limit_s=60)  # best.info: status, objective, bound, gap
    later = replan(plan, now_mjd, forecast=new_forecast, add=[Request("GRB", ra=..., dec=..., priority=50)])

numpy only at import; astropy and ERFA load when a grid is built, OR-Tools when `solve` runs.
"""

from openastro.schedule.constraints import NightGrid, build_grid, why_never
from openastro.schedule.dispatcher import Block, Plan, dispatch
from openastro.schedule.exact import solve
from openastro.schedule.loaders import from_catalog, read_csv, read_requests, read_toml
from openastro.schedule.overheads import Overheads, angular_distance
from openastro.schedule.plan import block_records, expected_value, metrics, reasons, to_json
from openastro.schedule.replan import replan
from openastro.schedule.requests import Cadence, Constraints, Request, expand_cadence
from openastro.schedule.settings import Settings
from openastro.schedule.weather import Forecast, clear_sky, climatology, from_process, read_forecast

__all__ = ["Block", "Cadence", "Constraints", "Forecast", "NightGrid", "Overheads", "Plan", "Request", "Settings",
           "angular_distance", "block_records", "build_grid", "clear_sky", "climatology", "dispatch",
           "expand_cadence", "expected_value", "from_catalog", "from_process", "metrics", "read_csv",
           "read_forecast", "read_requests", "read_toml", "reasons", "replan", "solve", "to_json", "why_never"]
