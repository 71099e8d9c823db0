"""The alert store's file: made with a schema version, refused when newer or not a store."""

from __future__ import annotations

import duckdb
import pytest

from openastro.alerts.store import SCHEMA_VERSION, AlertStore, store_path
from openastro.core.errors import InputError, WorkspaceError


def test_new_store_has_its_tables_and_version(tmp_path):
    with AlertStore.at(tmp_path) as store:
        tables = {row[0] for row in store.con.execute("SHOW TABLES").fetchall()}
        assert {"meta", "alerts", "cutouts", "detections", "objects", "object_features"} <= tables
        assert store.query("SELECT value FROM meta WHERE key = 'schema_version'").value[0] == str(SCHEMA_VERSION)
        assert {"rb", "ndet", "n_alerts", "age", "obj_ra"} <= set(store.columns("alert_features"))
    assert store_path(tmp_path) == tmp_path.resolve() / "alerts" / "alerts.duckdb"


def test_newer_or_foreign_store_is_refused(tmp_path):
    with AlertStore.at(tmp_path) as store:
        store.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    with pytest.raises(WorkspaceError, match="newer"):
        AlertStore.at(tmp_path, read_only=True)
    foreign = tmp_path / "other" / "alerts" / "alerts.duckdb"
    foreign.parent.mkdir(parents=True)
    duckdb.connect(str(foreign)).close()
    with duckdb.connect(str(foreign)) as con:
        con.execute("CREATE TABLE mine (x INTEGER)")
    for read_only in (True, False):
        with pytest.raises(WorkspaceError, match="not an openastro alert store"):
            AlertStore.at(tmp_path / "other", read_only=read_only)
    with pytest.raises(InputError, match="no alert store"):
        AlertStore.at(tmp_path / "none", read_only=True)


def test_feature_names_may_not_shadow_alert_columns(tmp_path):
    with AlertStore.at(tmp_path) as store, pytest.raises(InputError, match="rb"):
        store.put_object_features([{"objectId": "ZTFx", "rb": 0.5}])
