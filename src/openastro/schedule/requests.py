"""What to observe: a request in the manner of the observatories that run networks (LCO's request model),
its constraints and cadence, and the expansion of a cadence into one request per window."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

GROUP_MODES = ("one-of", "all-of")  # one-of: the best member only; all-of: every member at once, distinct sites
TWILIGHTS = ("astronomical", "nautical", "civil")


@dataclass(frozen=True)
class Constraints:
    """Hard limits (None: the `[schedule]` default) and the weather a request accepts."""

    max_airmass: float | None = None
    min_moon_sep_deg: float | None = None
    max_moon_illumination: float | None = None
    max_seeing: float | None = None  # arcsec FWHM delivered at the target's airmass; None: any
    min_transparency: float = 0.0  # 0..1; above ~0.4 only a clear sky will do
    twilight: str | None = None  # astronomical | nautical | civil
    time_critical: bool = False  # reserved first, at its best moment, before the dispatcher fills the night


@dataclass(frozen=True)
class Cadence:
    """Repeat every `period_days` from `start_mjd` to `end_mjd`, each visit within `jitter_days` of its time."""

    period_days: float
    jitter_days: float
    start_mjd: float
    end_mjd: float


@dataclass(frozen=True)
class Request:
    """One observation to make: target, instrument set-up, how much it matters, when and where it may happen."""

    name: str
    ra: float | None = None  # ICRS degrees
    dec: float | None = None
    object_id: str = ""  # a catalog or alert object (its ra/dec filled in by the loader)
    filter: str = ""  # "" = any filter the site holds
    exposure_s: float = 60.0
    repeats: int = 1
    priority: float = 1.0  # higher is more important
    windows: tuple[tuple[float, float], ...] = ()  # (start, end) MJD UTC; empty = any time of the night
    cadence: Cadence | None = None
    constraints: Constraints = field(default_factory=Constraints)
    sites: tuple[str, ...] = ()  # site ids allowed; empty = any
    group: str = ""
    group_mode: str = "one-of"
    after: str = ""  # follow-up trigger: observable only once the request of this name is done ...
    after_delay_min: float = 0.0  # ... at least this long after it ended ...
    after_within_min: float = math.inf  # ... and starting at most this long after it ended
    relay: bool = True  # repeats may be split across sites (continue elsewhere when the target sets)
    request_id: str = ""
    source: str = "file"

    @property
    def key(self) -> str:
        """The id the catalog and the plan use: request_id, else the name."""
        return self.request_id or self.name


def expand_cadence(request: Request) -> list[Request]:
    """One request per cadence window (name#k, window [t_k - jitter/2, t_k + jitter/2], t_k = start + k period),
    each window clipped to the request's own windows when it has some; a request without cadence is returned alone."""
    c = request.cadence
    if c is None:
        return [request]
    n = int(math.floor((c.end_mjd - c.start_mjd) / c.period_days + 1e-9)) + 1
    out = []
    for k in range(max(n, 0)):
        centre = c.start_mjd + k * c.period_days
        window = (centre - c.jitter_days / 2, centre + c.jitter_days / 2)
        windows = _clip(window, request.windows) if request.windows else (window,)
        if windows:
            out.append(replace(request, name=f"{request.name}#{k}", request_id=f"{request.key}#{k}",
                               windows=windows, cadence=None))
    return out


def expand_all(requests: list[Request]) -> list[Request]:
    """Every request with its cadence expanded, in order."""
    return [r for request in requests for r in expand_cadence(request)]


def _clip(window: tuple[float, float], windows: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """The parts of `window` inside any of `windows`."""
    parts = ((max(window[0], a), min(window[1], b)) for a, b in windows)
    return tuple((a, b) for a, b in parts if b > a)


def overlaps(request: Request, start_mjd: float, end_mjd: float) -> bool:
    """Whether any of the request's windows (or its cadence span) meets [start, end]."""
    if request.cadence is not None:
        return request.cadence.start_mjd - request.cadence.jitter_days <= end_mjd and \
            request.cadence.end_mjd + request.cadence.jitter_days >= start_mjd
    return not request.windows or any(a <= end_mjd and b >= start_mjd for a, b in request.windows)


def to_record(request: Request) -> dict:
    """A request as plain JSON-able data (what a saved plan keeps, so that it can be replanned)."""
    return asdict(request)


def from_record(data: dict) -> Request:
    """The request `to_record` wrote."""
    d = dict(data)
    cadence = d.pop("cadence", None)
    return Request(**{**d, "constraints": Constraints(**d.get("constraints", {})),
                      "cadence": Cadence(**cadence) if cadence else None,
                      "windows": tuple(tuple(w) for w in d.get("windows", ())), "sites": tuple(d.get("sites", ()))})
