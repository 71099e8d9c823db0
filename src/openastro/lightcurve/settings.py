"""The [periods] configuration as the light-curve functions take it: None, a Config, a section or a dict."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from openastro.core.config import PeriodsConfig
from openastro.core.errors import ConfigError


@lru_cache(maxsize=1)
def _defaults() -> PeriodsConfig:
    """The packaged defaults (parsed once)."""
    from openastro.core.config import load_config

    return load_config().periods


def resolve_config(config: Any = None) -> PeriodsConfig:
    """A PeriodsConfig from None (defaults), a Config, a PeriodsConfig or a dict of [periods] keys."""
    if config is None:
        return _defaults()
    if isinstance(config, PeriodsConfig):
        return config
    if hasattr(config, "periods"):
        return config.periods
    if isinstance(config, dict):
        from pydantic import ValidationError

        try:
            return PeriodsConfig.model_validate({**_defaults().model_dump(), **config})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"config key 'periods.{where}': {err['msg']} (got {err.get('input')!r})") from None
    raise ConfigError(f"cannot use {type(config).__name__} as the [periods] configuration")
