"""The network night as a reinforcement-learning environment (gymnasium API) on the dispatcher's own loop.

Each step is one of the dispatcher's decision points (`dispatcher.decisions`: a telescope is free and some
requests fit there). The observation is a fixed-size vector: for the top K candidates by the dispatcher's score,
their planning-time features (the learned value's `value.features`, the score relative to the best, block
length, setup, share of the request's repeats, chances left), then the time of night, the site's aperture and
its forecast P(clear) now. The action picks one of the K candidates by rank (0: the dispatcher's own choice; a
rank beyond the candidates counts as 0) or K: wait for the next event. The reward is what the committed blocks
(reserved ones included) achieve under the night's actual weather (`outcomes.Night`): priority x good frames /
repeats, so an episode's return is the night's achieved priority. `reset(seed=...)` draws a night from the
env's seeds (or `options={"night": seed}`): requests, date and weather.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from openastro.schedule.dispatcher import Options, decisions
from openastro.schedule.outcomes import Night, simulated_night
from openastro.schedule.value import FEATURES, features

K = 5
BOUND = 100.0  # observations are clipped to +-BOUND
CELL = ("p_ok", "snr_clear", "sky_mag", "airmass", "moon_sep", "seeing_forecast", "max_seeing", "min_transparency",
        "mag", "exposure_s", "p_clear")  # value.features kept per candidate
OWN = ("valid", "score", "priority", "hours", "setup_min", "share", "chances")
GLOBAL = ("night_fraction", "aperture_m", "p_clear_now", "candidates")
SCALE = {"snr_clear": None, "sky_mag": (20.0, 2.0), "airmass": (1.0, 1.0), "moon_sep": (0.0, 90.0),
         "seeing_forecast": (0.0, 3.0), "max_seeing": (0.0, 3.0), "mag": (18.0, 3.0), "exposure_s": (0.0, 300.0)}


class NightEnv(gym.Env):
    """One simulated network night per episode; each step one decision of the dispatcher's loop."""

    metadata = {"render_modes": []}

    def __init__(self, seeds: list[int] | None = None, n_requests: int = 100, n_sites: int = 3, k: int = K) -> None:
        self.seeds = list(seeds) if seeds is not None else list(range(1000))
        self.n_requests, self.n_sites, self.k = n_requests, n_sites, k
        self.width = k * (len(OWN) + len(CELL)) + len(GLOBAL)
        self.observation_space = gym.spaces.Box(-BOUND, BOUND, (self.width,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(k + 1)
        self._steps = None
        self._options: Options | None = None
        self.plan = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Draw a night (`options={"night": seed}` names it) and run the loop to its first decision."""
        super().reset(seed=seed)
        night = (options or {}).get("night")
        self.night_seed = int(self.np_random.choice(self.seeds) if night is None else night)
        self.grid = simulated_night(self.night_seed, self.n_requests, self.n_sites)
        self.night = Night(self.grid)
        cells = np.nonzero(self.grid.feasible & (self.grid.value > 0))
        self.cells = np.zeros((*self.grid.shape, len(CELL)), dtype=np.float32)
        if len(cells[0]):
            table = features(self.grid, *cells, mags=self.night.mags)
            self.cells[cells] = _scaled(table[:, [FEATURES.index(c) for c in CELL]])
        self._seen: set[int] = set()
        self.plan = None
        self._steps = decisions(self.grid)
        self._advance(None)
        return self._observation(), {"night": self.night_seed}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Commit the chosen candidate (or wait) and run to the next decision; reward: the value achieved."""
        if self._options is None:
            return self._observation(), 0.0, True, False, {}
        action = int(action)
        ranked = self._ranked()
        j = -1 if action == self.k else int(ranked[action] if action < len(ranked) else ranked[0])
        self._advance(j)
        reward = self._collect()
        done = self._options is None
        info = {"plan": self.plan} if done else {}
        return self._observation(), reward, done, False, info

    def _advance(self, j: int | None) -> None:
        """Send the choice to the loop (None: start it) and keep its next decision point, or its plan."""
        try:
            self._options = next(self._steps) if j is None else self._steps.send(j)
        except StopIteration as end:
            self._options, self.plan = None, end.value

    def _collect(self) -> float:
        """The value achieved by the blocks committed since the last step."""
        blocks = self.plan.blocks if self.plan is not None else self._options.state.blocks
        total = 0.0
        for b in blocks:
            if id(b) not in self._seen:
                self._seen.add(id(b))
                total += self.night.block(b).value
        return total

    def _ranked(self) -> np.ndarray:
        """Indices into the decision's candidates that fit, best dispatcher score first, at most K."""
        o = self._options
        fits = np.flatnonzero(np.isfinite(o.score))
        return fits[np.argsort(-o.score[fits], kind="stable")][: self.k]

    def _observation(self) -> np.ndarray:
        """The decision point as a fixed-size vector (zeros once the night is over)."""
        out = np.zeros(self.width, dtype=np.float32)
        o = self._options
        if o is None:
            return out
        st, grid, s, i = o.state, self.grid, o.site, o.slot
        ranked = self._ranked()
        best = float(o.score[ranked[0]]) if len(ranked) else 1.0
        per = len(OWN) + len(CELL)
        for n, j in enumerate(ranked):
            r = int(o.idx[j])
            hours = (o.first[j] - o.t + o.k[j] * st.per_d[r]) * 24.0
            own = (1.0, o.score[j] / max(best, 1e-9), grid.priority[r] / 10.0, hours, o.setup_d[j] * 1440.0 / 5.0,
                   o.k[j] / grid.repeats[r], np.log1p(st.chances[r, i]) / 5.0)
            out[n * per: n * per + len(OWN)] = own
            out[n * per + len(OWN): (n + 1) * per] = self.cells[r, s, i]
        span = grid.edges[-1] - grid.edges[0]
        out[-len(GLOBAL):] = ((o.t - grid.edges[0]) / span, grid.sites[s].aperture_m,
                              grid.forecast.p_clear[s, i], len(ranked) / self.k)
        return np.clip(out, -BOUND, BOUND)


def _scaled(table: np.ndarray) -> np.ndarray:
    """The CELL features on unit-ish scales (S/N as log10, missing limits as 0)."""
    out = np.nan_to_num(table.astype(float), nan=0.0)
    for c, name in enumerate(CELL):
        if name == "snr_clear":
            out[:, c] = np.log10(np.clip(out[:, c], 0.1, None))
        elif name in SCALE:
            lo, width = SCALE[name]
            out[:, c] = (out[:, c] - lo) / width
    return out
