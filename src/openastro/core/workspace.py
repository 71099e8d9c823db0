"""A workspace: one folder holding frames, the catalog, models, MLflow tracking, runs and reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openastro.core.errors import WorkspaceError

if TYPE_CHECKING:
    from openastro.core.config import Config

DEFAULT_WORKDIR = Path("openastro-work")


def stored_path(path: Path | str, root: Path) -> str:
    """How the catalog records a file: relative to the workspace when inside it (so a workspace can move)."""
    path = Path(path).resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def resolve_path(path: str | None, root: Path) -> Path | None:
    """The file a catalog path names; relative paths are taken from the workspace root."""
    if not path:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and the paths inside it (`Workspace("w")`; `create()` makes the folders)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())

    def table(self, name: str) -> Any:
        """A catalog table as a pandas DataFrame (read-only; the catalog must exist)."""
        from openastro.core.catalog import Catalog

        with Catalog(self.catalog_path, read_only=True) as catalog:
            if name not in catalog.tables():
                raise WorkspaceError(f"no table '{name}' in {self.catalog_path}; tables: {', '.join(catalog.tables())}")
            return catalog.query(f'SELECT * FROM "{name}"')

    @classmethod
    def open(cls, root: Path | str = DEFAULT_WORKDIR, create: bool = True) -> Workspace:
        """The workspace at `root`, made if missing when `create` is set."""
        ws = cls(Path(root))
        if create:
            ws.create()
        elif not ws.root.is_dir():
            raise WorkspaceError(f"workspace {ws.root} does not exist; create it with `openastro simulate` "
                                 f"or `openastro ingest --workdir {ws.root} FILES`")
        return ws

    def create(self) -> None:
        """Make the workspace folders."""
        blocking = next((p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise WorkspaceError(f"workspace path {self.root}: {blocking} is a file; pass a folder to --workdir")
        try:
            for sub in (self.frames, self.models, self.runs, self.reports, self.parquet):
                sub.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot make the workspace {self.root} ({exc.strerror}); pass a folder you can "
                                 "write to --workdir") from None

    @property
    def frames(self) -> Path:
        return self.root / "frames"

    @property
    def sim(self) -> Path:
        """Where `simulate` writes frames, the reference catalog and truth."""
        return self.root / "sim"

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def parquet(self) -> Path:
        return self.root / "parquet"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def model_folder(self, name: str, out: Path | str | None = None) -> Path:
        """Where `openastro train NAME` writes its model: `out` (--out) if given, else `models/<name>`."""
        folder = Path(out) if out else self.models / name
        if folder.exists() and not folder.is_dir():
            raise WorkspaceError(f"--out {folder} is a file; pass a folder for the model and its card")
        return folder

    def new_run(self, verb: str, config: Config, argv: list[str] | None = None) -> Path:
        """Make `runs/<timestamp>-<verb>/` holding the resolved config (and the command line)."""
        from openastro.core.config import to_toml

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        run_dir = self.runs / f"{stamp}-{verb}"
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "config.toml").write_text(to_toml(config))
        if argv is not None:
            (run_dir / "command.json").write_text(json.dumps({"verb": verb, "argv": argv}))
        return run_dir
