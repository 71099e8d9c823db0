"""Configuration: packaged defaults.toml, a user file and dotted overrides, validated by pydantic."""

from __future__ import annotations

import difflib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from openastro.core.errors import ConfigError, first_line

# The sections live in core/sections.py; these names are imported from here across the project.
from openastro.core.sections import (  # noqa: F401 - re-exported
    Config,
    FusionConfig,
    PeriodsConfig,
    PhotometryConfig,
    ReportConfig,
    SimConfig,
)


def defaults_dict() -> dict[str, Any]:
    """The packaged defaults as a nested dict."""
    text = resources.files("openastro.core").joinpath("defaults.toml").read_text()
    return tomllib.loads(text)


# Keys that moved, and where to: an old config file gets told instead of "unknown key".
RENAMED = {
    "transients.unet_model": "unet.model", "transients.realbogus_model": "realbogus.model",
    "transients.unet_threshold": "unet.threshold", "transients.unet_width": "unet.width",
    "transients.unet_depth": "unet.depth", "transients.tile": "unet.tile", "transients.rb_width": "realbogus.width",
    "transients.rb_dropout": "realbogus.dropout", "transients.rb_pos_weight": "realbogus.pos_weight",
    "transients.fnr": "realbogus.fnr", "transients.learning_rate": "unet.learning_rate and realbogus.learning_rate",
    "transients.weight_decay": "unet.weight_decay and realbogus.weight_decay",
    "transients.patience": "unet.patience and realbogus.patience",
}

# Tables whose keys the user names (a named filter): any key is valid there, the model checks the values.
OPEN_TABLES = {"alerts.filters"}


def _check_keys(user: dict[str, Any], reference: dict[str, Any], prefix: str = "") -> None:
    """Raise ConfigError naming the first key of `user` that `reference` does not have."""
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if dotted in RENAMED:
            raise ConfigError(f"config key '{dotted}' is now '{RENAMED[dotted]}'; rename it in your config")
        if key not in reference:
            valid = [f"{prefix}{k}" for k in reference]
            close = difflib.get_close_matches(dotted, valid, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else (
                f"; valid keys here: {', '.join(valid)}")
            raise ConfigError(f"unknown config key '{dotted}'{hint} (see `openastro config show`)")
        if isinstance(reference[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{dotted}' is a section; set one of its keys, e.g. '{dotted}.<key>'")
            if dotted not in OPEN_TABLES:
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
    except ValueError:  # not TOML (a decode error), or an integer with thousands of digits
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
        except ValueError as exc:  # TOML syntax, not UTF-8 text, or an integer too long for Python to convert
            raise ConfigError(f"config file {path} is not valid TOML ({first_line(exc)}); fix the syntax") from None
    layers.extend(parse_override(item) for item in overrides)
    for layer in layers:
        _check_keys(layer, base)
        base = _merge(base, layer)
    try:
        return Config.model_validate(base)
    except ValidationError as exc:
        raise ConfigError(f"config key {_invalid(exc)}") from None


def to_toml(config: Config) -> str:
    """The resolved config as TOML text."""
    import tomli_w

    return tomli_w.dumps(config.to_dict())


def with_section(config: Config | None, section: str, **overrides: Any) -> Config:
    """A copy of `config` (default: the defaults) with keys of one section replaced (None: keep), validated."""
    cfg = (config or load_config()).model_copy(deep=True)
    current = getattr(cfg, section)
    update = {k: v for k, v in overrides.items() if v is not None}
    try:
        setattr(cfg, section, type(current).model_validate({**current.model_dump(), **update}))
    except ValidationError as exc:
        raise ConfigError(f"config key {_invalid(exc, section + '.')}") from None
    return cfg


def _invalid(exc: ValidationError, prefix: str = "") -> str:
    """'section.key': what is wrong (got value), from the first error of a validation."""
    err = exc.errors()[0]
    where = prefix + ".".join(str(p) for p in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    given = err.get("input")
    shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
    # a rule over several keys (e.g. the annulus outside the aperture) says its values in its message
    return f"'{where}': {message[:200]}" + ("" if isinstance(given, dict) else f" (got {shown})")
