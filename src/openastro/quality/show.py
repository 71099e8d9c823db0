"""Rich tables for the quality verbs: training and evaluation summaries, flagged frames."""

from __future__ import annotations

from typing import Any

import pandas as pd

from openastro.quality.labels import DEFECTS


def _num(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None or value != value else format(value, fmt)


def train_summary(result: dict[str, Any]) -> None:
    """Headline AUCs (with and without site normalisation), per-defect recall, the anomaly experiment."""
    from rich.console import Console
    from rich.table import Table

    m = result["test"]
    raw = m.get("without_normalisation", {})
    console = Console()
    head = Table(title=f"frame quality on held-out frames (threshold {_num(m['threshold'])})")
    for col in ("frames", "ROC AUC", "without site normalisation", "precision", "recall", "MCC", "FPR"):
        head.add_column(col)
    for name, key, raw_key in (("training sites", "in_distribution", "roc_auc"),
                               (f"unseen site {m['unseen_site']}", "unseen", "roc_auc_unseen_site")):
        part = m.get(key, {})
        head.add_row(name, _num(part.get("roc_auc")), _num(raw.get(raw_key)), _num(part.get("precision")),
                     _num(part.get("recall")), _num(part.get("mcc")), _num(part.get("fpr")))
    console.print(head)
    per = Table(title="recall per defect at the threshold")
    for col in ("defect", "training sites", "unseen site", "anomaly score"):
        per.add_column(col)
    anomaly = m.get("anomaly", {}).get("recall_by_defect", {})
    for d in DEFECTS:
        per.add_row(d, _num(m["recall_by_defect"].get(d)), _num(m.get("recall_by_defect_unseen_site", {}).get(d)),
                    _num(anomaly.get(d)))
    console.print(per)
    hold = m.get("holdout", {})
    console.print(f"held-out defect {hold.get('holdout_defect')}: classifier trained without it flags "
                  f"{_num(hold.get('classifier_recall'))}, anomaly score flags "
                  f"{_num(m.get('anomaly', {}).get('holdout_recall'))} at {_num(m.get('anomaly', {}).get('fpr'))} "
                  "false positives on good frames")
    for key in ("model", "card", "mlflow_run_id"):
        if key in result:
            console.print(f"{key}: {result[key]}")


def evaluate_summary(result: dict[str, Any]) -> None:
    """The same tables as after training, on the held-out seed."""
    train_summary(result)


def flagged_table(frames: pd.DataFrame) -> None:
    """Frames judged bad or anomalous: site, time, verdict, score, defects and reasons."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(frames)} flagged frames")
    for col in ("frame", "site", "verdict", "P(bad)", "anomaly", "defects", "reasons"):
        table.add_column(col, overflow="fold")
    for _, r in frames.iterrows():
        table.add_row(str(r["frame_id"])[:12], str(r["site_id"]), r["verdict"], _num(r["score"]),
                      _num(r["anomaly"], ".2f"), ", ".join(r["labels"]), r["reasons"])
    Console(width=160 if not Console().is_terminal else None).print(table)


def load_verdicts(workdir: Any, site: str | None = None, everything: bool = False) -> pd.DataFrame:
    """Verdicts from a workspace's catalog: the flagged frames (or all), one site or every site."""
    from openastro.core.catalog import Catalog
    from openastro.core.errors import WorkspaceError
    from openastro.core.workspace import Workspace

    ws = Workspace.open(workdir, create=False)
    with Catalog(ws.catalog_path, read_only=True) as cat:
        if not cat.count("frame_quality"):
            raise WorkspaceError(f"no quality verdicts in {ws.root}; run `openastro run --workdir {ws.root}` first")
        where = ["TRUE" if everything else "q.verdict <> 'good'"]
        params: list[Any] = []
        if site:
            where.append("f.site_id = ?")
            params.append(site)
        return cat.query(f"""SELECT q.frame_id, f.site_id, f.mjd, f.path, q.verdict, q.score, q.anomaly, q.labels,
                                    q.reasons FROM frame_quality q JOIN frames f USING (frame_id)
                             WHERE {' AND '.join(where)} ORDER BY f.site_id, f.mjd""", params)
