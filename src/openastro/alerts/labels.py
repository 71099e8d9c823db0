"""The alert classifier's classes, their probability columns in the store, and how simulated and real labels map
onto them."""

from __future__ import annotations

CLASSES = ("SN Ia", "SN other", "AGN/QSO", "variable star", "asteroid", "bogus")
# The object_features columns `alerts ingest` writes (filterable: "p_snia > 0.7 and ndet >= 3").
PROBABILITY_COLUMNS = {"SN Ia": "p_snia", "SN other": "p_sn_other", "AGN/QSO": "p_agn", "variable star": "p_variable",
                       "asteroid": "p_asteroid", "bogus": "p_bogus"}
# The simulator's classes (sim.alertstream.CLASSES): TDE, SLSN and kilonova are too few to stand alone.
SIMULATED = {"SN Ia": "SN Ia", "SN II": "SN other", "SN Ibc": "SN other", "SLSN": "SN other", "TDE": "SN other",
             "kilonova": "SN other", "AGN": "AGN/QSO", "rrlyrae": "variable star", "cepheid": "variable star",
             "eclipsing": "variable star", "dscuti": "variable star", "lpv": "variable star",
             "flare": "variable star", "cv": "variable star", "yso": "variable star", "asteroid": "asteroid",
             "bogus": "bogus"}
# The labels of a labelled real folder (../shared/realdata/alerts_labelled/README.md, "Broad classes"); CV/Nova
# counts as a variable star (dwarf novae recur; a classical nova would be a transient: a judgement call).
REAL = {"SN Ia": "SN Ia", "SN II": "SN other", "SN Ibc": "SN other", "SLSN": "SN other", "TDE": "SN other",
        "AGN/QSO": "AGN/QSO", "Cepheid": "variable star", "RR Lyrae": "variable star",
        "Eclipsing binary": "variable star", "Delta Scuti": "variable star", "LPV": "variable star",
        "Rotational": "variable star", "YSO": "variable star", "CV/Nova": "variable star",
        "Symbiotic": "variable star", "Asteroid": "asteroid", "Bogus": "bogus"}
