"""Where requests come from besides a user's file (issue 18): generators that read the workspace's own tables and
write rows of the catalog's `requests` for the scheduler, each with a clear rule (see each module's docstring).

- periodic.py: periodic stars whose phase coverage is poor (their empty phases in the night) and the predicted
  transits of transit candidates;
- transients.py: follow-up of the transients detected lately (confirmation at another site, a missing colour);
- quality.py: a standard field at a site whose zero point or bad-frame fraction drifted;
- base.py: the night's spans, `Ask` (one asked-for observation) and writing, listing and cancelling rows;
- run.py: `openastro requests --from periods|transients|quality`, `--list`, `--cancel ID`.

A row's id is its source, object and night (`transit:1234:2026-03-21:17`): a rerun replaces it, a cancelled row
stays cancelled, and open rows of the same sources and night that are not asked for again become `superseded`.
"""

from openastro.schedule.sources.base import Ask, Night, night_of
from openastro.schedule.sources.run import FROM, run_cancel, run_generate, run_list

__all__ = ["FROM", "Ask", "Night", "night_of", "run_cancel", "run_generate", "run_list"]
