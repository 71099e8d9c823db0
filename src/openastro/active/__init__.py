"""Active learning (the RESSPECT idea): spend scarce labels, such as spectra, where they teach the classifier
most. A feature table (`read_table`), query strategies (`strategies`), the SN metrics (`metrics`), the loop
(`run_loop`, `learning_curves`) and the `openastro active` verb (`run_active`).

numpy loads with the package; scikit-learn, LightGBM, pandas and matplotlib on first use.
"""

from openastro.active.loop import LoopConfig, Split, learning_curves, make_split, run_loop
from openastro.active.metrics import accuracy, classification_metrics, efficiency, fom, purity
from openastro.active.run import ActiveOptions, run_active
from openastro.active.strategies import STRATEGIES, parse_strategies
from openastro.active.table import FeatureTable, read_table

__all__ = [
    "STRATEGIES", "ActiveOptions", "FeatureTable", "LoopConfig", "Split", "accuracy", "classification_metrics",
    "efficiency", "fom", "learning_curves", "make_split", "parse_strategies", "purity", "read_table",
    "run_active", "run_loop",
]
