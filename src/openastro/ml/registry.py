"""One registry of the project's learned models, and one resolver for the weights a name means.

A model name (`quality`, `vetting`, `unet`, `realbogus`, `alerts`, and every later one) maps to its estimator class, the
config section that holds its `model` key and training settings, the shipped default weights, and the functions
behind `openastro train NAME` and `openastro evaluate NAME`. Classes and functions are named by import path, so
the registry costs no import: capabilities (floor 4) stay out of the training kit (floor 3) until a name is used.

The weights for a name come from, in order: an explicit folder (`--model`), the `<section>.model` key of the
configuration, the workspace's trained model (`<workdir>/models/<name>`, what `openastro train NAME` writes),
the weights shipped in the package.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from importlib import import_module, resources
from pathlib import Path
from typing import Any

from openastro.core.errors import InputError


@dataclass(frozen=True)
class ModelSpec:
    """What the project knows about one model name."""

    name: str
    summary: str  # one line for --help
    estimator: str  # "package.module:Class", an ml.estimator.Estimator
    section: str  # config section with the `model` key (and the training settings)
    shipped: str  # "package:folder" of the default weights
    train: str  # "package.module:function": (workdir, config, out, argv, progress, **options) -> summary
    evaluate: str  # "package.module:function": (workdir, config, model, argv, progress, **options) -> metrics
    train_options: tuple[str, ...] = ()  # the options `openastro train NAME` takes besides the common ones
    evaluate_options: tuple[str, ...] = ()
    network: str = "."  # subfolder of the bundle holding the torch network `openastro export NAME` exports
    show: str = ""  # module with train_summary(result) and evaluate_summary(result): the verbs' tables

    def load_class(self) -> type:
        """The estimator class."""
        return _imported(self.estimator)

    def train_function(self) -> Any:
        """The function behind `openastro train NAME`."""
        return _imported(self.train)

    def evaluate_function(self) -> Any:
        """The function behind `openastro evaluate NAME`."""
        return _imported(self.evaluate)

    def summary_printer(self, verb: str) -> Any:
        """The function printing the tables of `openastro VERB NAME` (VERB: train or evaluate)."""
        return _imported(f"{self.show}:{verb}_summary")

    def shipped_dir(self) -> Path:
        """The folder of the weights shipped in the package."""
        package, _, folder = self.shipped.partition(":")
        return Path(str(resources.files(package).joinpath(folder)))


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("quality", "frame quality: LightGBM verdicts with reasons and an autoencoder anomaly score",
              "openastro.quality.model:QualityModel", "quality", "openastro.quality:weights/quality",
              "openastro.quality.train:train_quality", "openastro.quality.train:evaluate_quality",
              train_options=("seed", "nights", "adapt", "adapt_weight"), evaluate_options=("seed",), network="anomaly",
              show="openastro.quality.show"),
    ModelSpec("vetting", "transit vetting: K-means triage and a 1-D CNN on folded views",
              "openastro.vetting.model:VettingClassifier", "vetting", "openastro.vetting:weights/vetting",
              "openastro.vetting.train:train_vetting", "openastro.vetting.train:evaluate_vetting",
              train_options=("seed", "n_train", "epochs"), evaluate_options=("seed", "n"),
              show="openastro.vetting.show"),
    ModelSpec("unet", "transient segmentation: U-Net on (science, reference, difference) frames",
              "openastro.transients.segmenter:Segmenter", "unet", "openastro.transients:weights/unet",
              "openastro.transients.train:train_unet", "openastro.transients.evaluate:evaluate_unet",
              train_options=("mode", "samples", "epochs", "batch_size", "chunks", "seed"),
              evaluate_options=("chunks", "seed"), show="openastro.transients.show"),
    ModelSpec("realbogus", "real/bogus: CNN on 63x63 (science, reference, difference) stamps",
              "openastro.transients.realbogus:RealBogusClassifier", "realbogus",
              "openastro.transients:weights/realbogus", "openastro.transients.train:train_realbogus",
              "openastro.transients.evaluate:evaluate_realbogus",
              train_options=("mode", "samples", "epochs", "batch_size", "chunks", "seed", "adapt", "target",
                             "adapt_weight"),
              evaluate_options=("chunks", "seed", "real", "card"), show="openastro.transients.show"),
    ModelSpec("alerts", "alert classifier: calibrated LightGBM on light-curve features (SN Ia, SN other, AGN, "
              "variable star, asteroid, bogus)", "openastro.alerts.classifier:AlertClassifier", "alerts_model",
              "openastro.alerts:weights/alerts", "openastro.alerts.train:train_alerts",
              "openastro.alerts.train:evaluate_alerts", train_options=("mode", "seed", "n_train"),
              evaluate_options=("seed", "n", "real", "card"), show="openastro.alerts.show"),
    ModelSpec("embed", "image encoder for discovery: an astroPT-style patch transformer pretrained by next-patch "
              "prediction", "openastro.discovery.encoder:PatchEncoder", "embed",
              "openastro.discovery:weights/embed", "openastro.discovery.train:train_embed",
              "openastro.discovery.train:evaluate_embed",
              train_options=("mode", "samples", "epochs", "batch_size", "seed", "images"),
              evaluate_options=("seed", "n", "images", "label", "card"), show="openastro.discovery.show"),
    ModelSpec("schedule_value", "learned value of an observation for the scheduler: LightGBM P(good frame) from "
              "planning-time features", "openastro.schedule.value:ValueModel", "schedule_value",
              "openastro.schedule:weights/schedule_value", "openastro.schedule.valuetrain:train_schedule_value",
              "openastro.schedule.valuetrain:evaluate_schedule_value", train_options=("nights", "seed"),
              evaluate_options=("seed", "n"), show="openastro.schedule.valuetrain"),
    ModelSpec("embed_lc", "light-curve encoder for discovery: a transformer over irregular multi-band detections "
              "pretrained by masked-magnitude reconstruction", "openastro.discovery.lcencoder:LightCurveEncoder",
              "embed_lc", "openastro.discovery:weights/embed_lc", "openastro.discovery.lctrain:train_embed_lc",
              "openastro.discovery.lctrain:evaluate_embed_lc",
              train_options=("mode", "n_train", "epochs", "batch_size", "seed"),
              evaluate_options=("seed", "n", "real", "card"), show="openastro.discovery.lcshow"),
)}


def model_spec(name: str) -> ModelSpec:
    """The spec of a model name, or an InputError naming the known ones."""
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, list(MODELS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise InputError(f"unknown model '{name}'{hint} (models: {', '.join(MODELS)})")


def resolve_model(name: str, explicit: Path | str | None = None, workspace: Path | str | None = None,
                  config: Any = None) -> Path:
    """The folder of the weights `name` means: `explicit`, else `<section>.model` of `config`, else the
    workspace's trained model, else the shipped one."""
    from openastro.ml.bundle import is_bundle

    spec = model_spec(name)
    setting = getattr(getattr(config, spec.section, None), "model", "") if config is not None else ""
    for given, what in ((explicit, "--model"), (setting, f"{spec.section}.model")):
        if given:
            folder = Path(given).expanduser()
            if not is_bundle(folder):
                raise InputError(f"{folder} holds no trained {name} model (no model.json); train one with "
                                 f"`openastro train {name}` or fix {what}")
            return folder
    if workspace is not None and is_bundle(Path(workspace) / "models" / name):
        return Path(workspace) / "models" / name
    shipped = spec.shipped_dir()
    if not is_bundle(shipped):
        raise InputError(f"no {name} model: none shipped and none trained; run `openastro train {name}`")
    return shipped


def load_model(name: str, explicit: Path | str | None = None, workspace: Path | str | None = None,
               config: Any = None, **runtime: Any) -> Any:
    """The estimator `name` means (see `resolve_model`), loaded with `runtime` options (e.g. backend)."""
    folder = resolve_model(name, explicit, workspace, config)
    return model_spec(name).load_class().load(folder, **runtime)


def model_digest(folder: Path | str) -> str:
    """A short digest of what a saved model computes (its weights, hyperparameters and fitted state, not its
    provenance or exports): a retrained model changes it, an export does not."""
    from openastro.ml.bundle import META, read_meta, weights_digest

    digest = hashlib.sha256(weights_digest(folder).encode())
    for meta_path in sorted(Path(folder).rglob(META)):
        meta = read_meta(meta_path.parent)  # a damaged model.json is one line, not a traceback
        digest.update(json.dumps([meta.get("params"), meta.get("state")], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _imported(path: str) -> Any:
    """The object at 'package.module:name'."""
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)
