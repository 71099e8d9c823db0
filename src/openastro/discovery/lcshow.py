"""Rich output of `openastro train embed_lc`, `openastro evaluate embed_lc` and `openastro embed --lightcurves`."""

from __future__ import annotations

from typing import Any


def train_summary(summary: dict[str, Any]) -> None:
    """Where the encoder went and how its class probes compare with the baselines."""
    from openastro.discovery.show import probe_table

    probe_table(summary["probes"], f"class probes, held-out simulated seed {summary['seeds']['test']} (ROC AUC)")
    print(f"model: {summary['model']} ({summary['parameters']} parameters, {summary['epochs_run']} epochs, "
          f"{summary['seconds']['total']} s)\ncard: {summary['card']}\nmlflow run: {summary['mlflow_run_id']}")


def evaluate_summary(result: dict[str, Any]) -> None:
    """The class probes of a saved encoder."""
    from openastro.discovery.show import probe_table

    probe_table(result["probes"], result["title"])
    if result.get("card"):
        print(f"card: {result['card']}")


def embed_summary(result: dict[str, Any]) -> None:
    """How many light curves were new and the index's size."""
    known = "nothing new: every object was already indexed" if not result["added"] else \
        f"embedded {result['added']} new light curves"
    print(f"{known}; index '{result['name']}' holds {result['total']} {result['dim']}-d vectors ({result['index']})")
    print(f"encoder: {result['encoder']} ({result['model']})\nrun: {result['run_dir']}")
