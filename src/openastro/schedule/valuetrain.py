"""`openastro train schedule_value` and `openastro evaluate schedule_value`: the learned value of an observation
(`value.ValueModel`) trained on simulated nights of the outcomes simulator and measured on nights it never saw,
tracked in MLflow and saved with its card, like every other model of the registry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from openastro.core.config import with_section
from openastro.core.errors import InputError
from openastro.core.workspace import DEFAULT_WORKDIR, Workspace

NAME = "schedule_value"
HELD_OUT_SEED = 10_000  # the first held-out night: far from any training seed


def train_schedule_value(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None, out: Path | str | None = None,
                         argv: list[str] | None = None, progress: bool = False, *, nights: int | None = None,
                         seed: int | None = None) -> dict[str, Any]:
    """Train on simulated nights seed .. seed + nights - 1, measure ROC AUC on held-out nights, save the model
    and its card; the summary `--json` prints."""
    import mlflow

    from openastro.ml.card import rebuild_command
    from openastro.ml.tracking import tracking
    from openastro.schedule.value import train, training_set

    started = time.time()
    cfg = with_section(config, NAME, seed=seed, nights=nights)
    c = cfg.schedule_value
    if c.seed + c.nights > HELD_OUT_SEED:
        raise InputError(f"training nights {c.seed}..{c.seed + c.nights - 1} reach the held-out nights from "
                         f"{HELD_OUT_SEED}; lower --seed or --nights")
    ws = Workspace.open(workdir)
    run_dir = ws.new_run(f"train-{NAME}", cfg, argv)
    out = ws.model_folder(NAME, out)
    with tracking(ws.root, NAME, f"{NAME}-seed{c.seed}") as run:
        mlflow.log_params(c.model_dump())
        model = train(range(c.seed, c.seed + c.nights), per_night=c.per_night, n_requests=c.n_requests,
                      n_sites=c.n_sites, threads=c.threads)
        held_out = list(range(HELD_OUT_SEED, HELD_OUT_SEED + c.held_out))
        auc = model.score(*training_set(held_out, c.per_night, c.n_requests, c.n_sites))
        mlflow.log_metrics({"held_out_auc": auc})
    model.info_ |= {"command": rebuild_command(NAME, argv, f"openastro train {NAME}"), "config": c.model_dump(),
                    "held_out_seeds": held_out, "held_out_auc": round(auc, 4),
                    "seconds": round(time.time() - started, 1)}
    model.save(out)
    card = write_card(out, model)
    summary = {"model": str(out), "card": str(card), **model.info_, "mlflow_run_id": run.info.run_id,
               "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def evaluate_schedule_value(workdir: Path | str = DEFAULT_WORKDIR, config: Any = None,
                            model: Path | str | None = None, argv: list[str] | None = None, progress: bool = False,
                            *, seed: int | None = None, n: int | None = None) -> dict[str, Any]:
    """ROC AUC of a saved value model on `n` simulated nights from `seed` (default the held-out nights)."""
    from openastro.ml.registry import resolve_model
    from openastro.schedule.value import ValueModel, training_set

    ws = Workspace.open(workdir)
    folder = resolve_model(NAME, model, ws.root, config)
    value = ValueModel.load(folder)
    trained = set(value.info_.get("train_seeds", []))
    first, count = HELD_OUT_SEED if seed is None else seed, n or value.info_.get("config", {}).get("held_out", 5)
    nights = list(range(first, first + count))
    if trained & set(nights):
        raise InputError(f"nights {nights[0]}..{nights[-1]} include nights this model trained on; pick another --seed")
    cfg = with_section(config, NAME)
    run_dir = ws.new_run(f"evaluate-{NAME}", cfg, argv)
    settings = value.info_
    auc = value.score(*training_set(nights, settings.get("per_night", 2000), settings.get("n_requests", 200),
                                    settings.get("n_sites", 6)))
    result = {"model": str(folder), "nights": [nights[0], nights[-1]], "roc_auc": round(auc, 4),
              "run_dir": str(run_dir)}
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def write_card(folder: Path, model: Any) -> Path:
    """MODEL_CARD.md beside the value model: what it predicts, from what, how well, how to rebuild it."""
    from openastro.ml.card import write_text_card
    from openastro.schedule.value import FEATURES

    info = model.info_
    text = "\n\n".join([
        "# Learned value of an observation (scheduler)",
        "LightGBM: P(the frame is good: within the request's transparency and seeing limits and S/N >= 10) from "
        f"what is known when planning: {', '.join(FEATURES)}. `openastro schedule --value learned` plans on "
        "priority x this probability instead of the forecast's P(ok).",
        "## Rebuild", f"```\n{info.get('command', '')}\n```",
        "## Data",
        f"The outcomes simulator (`schedule.outcomes`) on simulated nights {info.get('train_seeds', [None])[0]}.."
        f"{info.get('train_seeds', [None])[-1]} ({info.get('rows')} frames, {info.get('n_sites')} sites, "
        f"{info.get('n_requests')} requests a night; good rate {info.get('good_rate')}): the actual weather "
        "drawn from the process the forecast describes, S/N from the simulator's photometric model.",
        "## Held-out figure",
        f"ROC AUC {info.get('held_out_auc')} on simulated nights {info.get('held_out_seeds')} (never trained on). "
        "`python -m benchmarks schedule_learned` measures the plans it makes against the plain dispatcher.",
        "## Limits",
        "- Trained on the simulator only: real sites' weather, seeing and sky follow it only as far as "
        "SIMULATION.md's numbers do.",
        "- Targets carry no magnitude in most request files; the simulator draws one per target (V 16-21).",
    ]) + "\n"
    return write_text_card(folder, text)


def train_summary(summary: dict[str, Any]) -> None:
    """Where the model went and its held-out figure."""
    print(f"value model: {summary['model']} ({summary['rows']} frames from nights {summary['train_seeds'][0]}.."
          f"{summary['train_seeds'][-1]}; held-out ROC AUC {summary['held_out_auc']})\ncard: {summary['card']}\n"
          f"mlflow run: {summary['mlflow_run_id']}")


def evaluate_summary(result: dict[str, Any]) -> None:
    """The held-out figure of a saved value model."""
    print(f"value model {result['model']}: ROC AUC {result['roc_auc']} on simulated nights "
          f"{result['nights'][0]}..{result['nights'][1]}")
