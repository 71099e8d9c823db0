"""Report files are written atomically and readable like any file the user writes (the umask decides)."""

from __future__ import annotations

import os
import stat

from openastro.pipeline.report.night import write_atomic


def test_report_files_follow_the_umask_not_mkstemp(tmp_path):
    before = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "reports" / "2026-03-20.html", "<html></html>")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp alone gives 0o600
        os.umask(0o002)
        assert stat.S_IMODE(write_atomic(path, "<html>2</html>").stat().st_mode) == 0o664
    finally:
        os.umask(before)
    assert path.read_text() == "<html>2</html>" and not list(path.parent.glob(".*.tmp"))
