"""The nightly report's scheduling section: per site, the night's plan against what was executed (a Gantt chart,
matplotlib PNG), the blocks with their outcome and the night's metrics, scheduled against achieved. Read from
the stored plan (plans/<night>.json), the observatory's log of it (plans/<night>.observed.json) and the
catalog's `executions`; a night without a plan adds nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openastro.core.catalog import Catalog
from openastro.pipeline.report import markup as h

TITLE, ANCHOR = "Schedule: plan against execution", "schedule"
STATUS_COLORS = {"done": "#2ca02c", "failed": "#d62728", "bad": "#ff7f0e", "planned": "#9e9e9e"}
METRIC_ROWS = (("requests completed (fraction)", "fraction_scheduled", "fraction_completed"),
               ("priority", "scheduled_priority", "achieved_priority"),
               ("open-shutter fraction", "open_shutter_fraction", "open_shutter_fraction"),
               ("overhead fraction", "overhead_fraction", "overhead_fraction"),
               ("mean airmass", "mean_airmass", "mean_airmass"),
               ("median hours from alert to first frame", None, "median_alert_to_first_frame_h"),
               ("mean phase coverage of periodic targets", None, "mean_phase_coverage"))


@dataclass
class NightPlan:
    """A night's plan, its observed log (None before `simulate --plan`), block statuses and request facts."""

    plan: dict[str, Any]
    observed: dict[str, Any] | None
    statuses: dict[int, str] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    info: dict[str, dict[str, float]] = field(default_factory=dict)


def load_night_plan(catalog: Catalog, root: Path | None, night: str) -> NightPlan | None:
    """The night's plan and what became of it, or None when the workspace has no readable plan for it."""
    import json

    from openastro.core.errors import InputError
    from openastro.pipeline.observe import OBSERVED, read_plan, request_info

    path = Path(root or ".") / "plans" / f"{night}.json"
    if root is None or not path.is_file():
        return None
    try:
        saved = read_plan(path)
    except InputError:
        return None
    observed_path = path.with_name(f"{night}{OBSERVED}")
    observed = json.loads(observed_path.read_text()) if observed_path.is_file() else None
    if observed is not None and observed.get("plan_id") != saved["plan_id"]:
        observed = None
    rows = catalog.query("SELECT block, status, reason FROM executions WHERE plan_id = ?", [saved["plan_id"]])
    statuses = {int(b): str(s) for b, s in zip(rows["block"], rows["status"], strict=True)}
    reasons = {int(b): str(r or "") for b, r in zip(rows["block"], rows["reason"], strict=True)}
    return NightPlan(saved, observed, statuses, reasons, request_info(catalog, saved))


def schedule_section(night_plan: NightPlan | None) -> str:
    """The section (empty without a plan): the Gantt chart, the metrics and the blocks."""
    from openastro.pipeline.report.images import png_data_uri
    from openastro.schedule.outcome import night_metrics

    if night_plan is None:
        return ""
    plan, observed = night_plan.plan, night_plan.observed
    achieved = night_metrics(plan, observed, night_plan.statuses, night_plan.info) if observed else None
    chart = h.image_card(png_data_uri(gantt_png(night_plan)), f"Plan {plan['plan_id']} against execution")
    text = ("Per site, the planned blocks (upper bars, grey) and the executed ones (lower bars: green done, red "
            "failed, orange done but its frames judged bad by the frame-quality model), UTC. "
            + ("" if observed else "The plan has not been observed yet (openastro simulate --plan NIGHT)."))
    return h.section(TITLE, chart, h.caption(text), _metrics_table(plan["metrics"], achieved),
                     _blocks_table(night_plan), anchor=ANCHOR)


def gantt_png(night_plan: NightPlan) -> bytes:
    """The per-site timeline of plan and execution as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from openastro.schedule.loaders import mjd_of

    plan, observed = night_plan.plan, night_plan.observed
    sites = list(plan["sites"])
    done = {b["block"]: b for b in (observed or {}).get("blocks", [])}
    fig, ax = plt.subplots(figsize=(10, 0.9 * len(sites) + 1.4))
    origin = mjd_of(plan["night"])
    for k, b in enumerate(plan["scheduled"]):
        y = sites.index(b["site"]) if b["site"] in sites else len(sites)
        ax.broken_barh([((b["start_mjd"] - origin) * 24.0, (b["end_mjd"] - b["start_mjd"]) * 24.0)], (y - 0.45, 0.4),
                       facecolors=STATUS_COLORS["planned"], edgecolor="black", linewidth=0.3)
        if k in done:
            e = done[k]
            status = night_plan.statuses.get(k, e["status"])
            ax.broken_barh([((e["start_mjd"] - origin) * 24.0, max(e["end_mjd"] - e["start_mjd"], 1e-5) * 24.0)],
                           (y + 0.05, 0.4), facecolors=STATUS_COLORS.get(status, "#000000"), edgecolor="black",
                           linewidth=0.3)
    ax.set_yticks(range(len(sites)), sites)
    ax.set_ylim(-0.6, len(sites) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(f"hours after {plan['night']} 00:00 UTC")
    ax.set_title(f"Night of {plan['night']}: plan (upper) and execution (lower)")
    ax.legend(handles=[Patch(color=c, label=s) for s, c in STATUS_COLORS.items()], loc="upper left", fontsize=8,
              bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _metrics_table(planned: dict[str, Any], achieved: dict[str, Any] | None) -> str:
    """Scheduled against achieved, one row per metric."""
    rows = []
    for label, plan_key, done_key in METRIC_ROWS:
        rows.append([h.esc(label), h.fmt(planned.get(plan_key), 3) if plan_key else h.MISSING,
                     h.fmt(achieved.get(done_key), 3) if achieved else h.MISSING])
    return h.table(rows, ["metric", "scheduled", "achieved"])


def _blocks_table(night_plan: NightPlan) -> str:
    """Each block: site, request, planned and executed times, status and reason."""
    from openastro.schedule.loaders import iso_of

    done = {b["block"]: b for b in (night_plan.observed or {}).get("blocks", [])}
    rows = []
    for k, b in enumerate(night_plan.plan["scheduled"]):
        e = done.get(k)
        span = f"{iso_of(e['start_mjd'])[11:16]}-{iso_of(e['end_mjd'])[11:16]}" if e else h.MISSING
        rows.append([h.esc(b["site"]), h.esc(b["name"]), f"{b['start'][11:16]}-{b['end'][11:16]}", span,
                     h.esc(night_plan.statuses.get(k, "planned")),
                     h.esc(night_plan.reasons.get(k, "") if e else "")])
    return h.table(rows, ["site", "request", "planned (UTC)", "executed", "status", "reason"], text_cols=2)
