"""Configuration: packaged defaults.toml, a user file and dotted overrides, validated by pydantic."""

from __future__ import annotations

import difflib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from openastro.core.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class VariabilityConfig(_Section):
    transit: float
    eclipsing: float
    rrlyrae: float
    cepheid: float
    dscuti: float
    flare: float
    supernovae_per_field: float
    novae_per_field: float
    asteroids_per_field: float


class DefectsConfig(_Section):
    clouds: float
    tracking: float
    defocus: float
    dew: float
    bright_background: float
    trail: float
    electronics: float
    cosmic_ray_rate: float


class SimConfig(_Section):
    seed: int
    nights: int
    start_date: str
    sites: list[str]
    n_fields: int
    frame_size: int
    stars_per_field: int
    mag_range: tuple[float, float]
    cadence_min: float
    exposure_s: float
    filter: str
    airmass_limit: float
    sun_altitude_max: float
    max_frames_per_site: int
    write_masks: bool
    variability: VariabilityConfig
    defects: DefectsConfig


class PhotometryConfig(_Section):
    detect_threshold: float
    min_area: int
    back_size: int
    back_filter: int
    aperture_fwhm: float
    annulus_fwhm: tuple[float, float]
    match_radius_arcsec: float
    min_snr_zero_point: float
    deblend_cont: float
    default_fwhm_px: float


class RunConfig(_Section):
    dask: str
    dask_workers: int
    stages: list[str]


class ReportConfig(_Section):
    n_variable_stars: int
    n_example_frames: int


class Config(_Section):
    sim: SimConfig
    photometry: PhotometryConfig
    run: RunConfig
    report: ReportConfig

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), ready for TOML or JSON."""
        return self.model_dump(mode="json")


def defaults_dict() -> dict[str, Any]:
    """The packaged defaults as a nested dict."""
    text = resources.files("openastro.core").joinpath("defaults.toml").read_text()
    return tomllib.loads(text)


def _check_keys(user: dict[str, Any], reference: dict[str, Any], prefix: str = "") -> None:
    """Raise ConfigError naming the first key of `user` that `reference` does not have."""
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in reference:
            valid = [f"{prefix}{k}" for k in reference]
            close = difflib.get_close_matches(dotted, valid, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else (
                f"; valid keys here: {', '.join(valid)}")
            raise ConfigError(f"unknown config key '{dotted}'{hint} (see `openastro config show`)")
        if isinstance(reference[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{dotted}' is a section; set one of its keys, e.g. '{dotted}.<key>'")
            _check_keys(value, reference[key], dotted + ".")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `over` into a copy of `base`."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _parse_value(text: str) -> Any:
    """Parse an override value as a TOML literal (number, bool, list, quoted string); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> dict[str, Any]:
    """Turn 'a.b.c=value' into {'a': {'b': {'c': value}}}."""
    if "=" not in item:
        raise ConfigError(f"override '{item}' is not of the form section.key=value (e.g. --set sim.nights=2)")
    path, _, raw = item.partition("=")
    keys = [k.strip() for k in path.strip().split(".") if k.strip()]
    if not keys:
        raise ConfigError(f"override '{item}' has no key before '='")
    nested: dict[str, Any] = {keys[-1]: _parse_value(raw.strip())}
    for key in reversed(keys[:-1]):
        nested = {key: nested}
    return nested


def load_config(path: Path | str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Resolve defaults, then the user file at `path`, then each `section.key=value` override."""
    base = defaults_dict()
    layers: list[dict[str, Any]] = []
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; pass an existing TOML file to --config")
        try:
            layers.append(tomllib.loads(path.read_text()))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix the syntax") from None
    layers.extend(parse_override(item) for item in overrides)
    for layer in layers:
        _check_keys(layer, base)
        base = _merge(base, layer)
    try:
        return Config.model_validate(base)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"config key '{where}': {err['msg']} (got {err.get('input')!r})") from None


def to_toml(config: Config) -> str:
    """The resolved config as TOML text."""
    import tomli_w

    return tomli_w.dumps(config.to_dict())
