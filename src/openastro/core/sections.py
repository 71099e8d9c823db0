"""The configuration's sections: one validated pydantic model per `[section]` of defaults.toml, and `Config`,
all of them (loading, merging and overrides: `core.config`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    # inf and nan are never a setting: a cadence of inf minutes or a threshold of nan only fails later, far away
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]  # numpy and torch take any seed in this range
Workers = Annotated[int, Field(ge=0, le=1024)]  # processes or threads; 0 = one per core or the library's choice
Adapt = Annotated[str, Field(pattern="^(none|dann|mmd)$")]  # domain adaptation of a model's training (ml/adapt.py)
AdaptWeight = Annotated[float, Field(ge=0.0, le=100.0)]  # its lambda


class VariabilityConfig(_Section):
    transit: Probability
    eclipsing: Probability
    rrlyrae: Probability
    cepheid: Probability
    dscuti: Probability
    flare: Probability
    supernovae_per_field: NonNegative
    novae_per_field: NonNegative
    asteroids_per_field: NonNegative
    nuclear_per_field: NonNegative

    @model_validator(mode="after")
    def _fractions_fit(self) -> VariabilityConfig:
        total = self.transit + self.eclipsing + self.rrlyrae + self.cepheid + self.dscuti + self.flare
        if total > 1.0:
            raise ValueError(f"variable-star fractions add up to {total:.3f}; they must not exceed 1")
        return self


class DefectsConfig(_Section):
    clouds: Probability
    tracking: Probability
    defocus: Probability
    dew: Probability
    bright_background: Probability
    trail: Probability
    electronics: Probability
    cosmic_ray_rate: NonNegative


def _bright_then_faint(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] >= value[1]:
        raise ValueError("mag_range must be [bright, faint] with bright < faint")
    return value


class GalaxiesConfig(_Section):
    enabled: bool
    mag_range: tuple[float, float]
    density: Annotated[float, Field(ge=0.0, le=100.0)]
    hosts_at_distance: bool = False
    host_siblings: Annotated[int, Field(ge=0, le=10)] = 0

    _ordered = field_validator("mag_range")(_bright_then_faint)


class SimConfig(_Section):
    seed: Seed
    nights: Annotated[int, Field(ge=1, le=3660)]
    start_date: str
    sites: list[str]
    n_fields: Annotated[int, Field(ge=1, le=1000)]
    frame_size: Annotated[int, Field(ge=16, le=8192)]
    stars_per_field: Annotated[int, Field(ge=0, le=1_000_000)]
    mag_range: tuple[float, float]
    cadence_min: Annotated[float, Field(ge=0.1, le=1440.0)]
    exposure_s: Annotated[float, Field(gt=0.0, le=86400.0)]
    filters: Annotated[list[str], Field(min_length=1, max_length=6)]
    airmass_limit: Annotated[float, Field(gt=1.0, le=40.0)]
    sun_altitude_max: Annotated[float, Field(ge=-90.0, le=0.0)]
    max_frames_per_site: Annotated[int, Field(ge=0)]
    write_masks: bool
    template_frames: Annotated[int, Field(ge=0, le=1000)]
    weather: bool
    galaxies: GalaxiesConfig
    variability: VariabilityConfig
    defects: DefectsConfig

    @field_validator("start_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> str:
        """Accept a TOML date or an ISO string; keep the ISO string."""
        from datetime import date

        text = value.isoformat() if isinstance(value, date) else str(value)
        try:
            date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a date like 2026-03-20") from None
        return text

    @field_validator("filters")
    @classmethod
    def _known_bands(cls, value: list[str]) -> list[str]:
        """Band names the simulator knows, each once."""
        from openastro.sim.bands import BANDS

        unknown = [v for v in value if v not in BANDS]
        if unknown:
            raise ValueError(f"unknown band {unknown[0]!r}; use some of {', '.join(BANDS)}")
        if len(set(value)) < len(value):
            raise ValueError("a band is named twice")
        return value

    _ordered = field_validator("mag_range")(_bright_then_faint)


class PhotometryConfig(_Section):
    detect_threshold: float = Field(gt=0, le=1000)
    min_area: int = Field(ge=1, le=10_000)
    back_size: int = Field(ge=8, le=4096)
    back_filter: int = Field(ge=1, le=15)
    aperture_fwhm: float = Field(gt=0, le=20)
    annulus_fwhm: tuple[float, float]
    aperture_correction_fwhm: float = Field(ge=0, le=20)
    match_radius_arcsec: float = Field(gt=0, le=60)
    min_snr_zero_point: float = Field(ge=0)
    deblend_cont: float = Field(ge=0, le=1)
    default_fwhm_px: float = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _annulus_outside_aperture(self) -> PhotometryConfig:
        inner, outer = self.annulus_fwhm
        if not self.aperture_fwhm <= inner < outer <= 50:
            raise ValueError(f"annulus_fwhm must be [inner, outer] with aperture_fwhm ({self.aperture_fwhm}) "
                             f"<= inner < outer <= 50 (got [{inner}, {outer}])")
        return self


class RunConfig(_Section):
    dask: str
    dask_workers: int = Field(ge=1, le=1024)
    stages: list[str]

    @field_validator("dask")
    @classmethod
    def _executor(cls, value: str) -> str:
        """'' (in-process), 'local' (a LocalCluster) or a scheduler address such as tcp://host:8786."""
        import re

        if value in ("", "local") or re.fullmatch(r"((tcp|tls|ucx|ws|wss)://)?[\w.\-\[\]:]+:\d{1,5}", value):
            return value
        raise ValueError("must be '' (in-process), 'local' (a Dask LocalCluster) or a scheduler address such as "
                         "tcp://HOST:8786")


class ReportConfig(_Section):
    n_variable_stars: int = Field(ge=0, le=1000)
    n_example_frames: int = Field(ge=0, le=100)
    n_candidates: int = Field(default=12, ge=0, le=1000)


class PeriodsConfig(_Section):
    method: str = Field(pattern="^(auto|ls|bls)$")
    top: int = Field(ge=1)
    samples_per_peak: float = Field(gt=0)
    min_cycles: float = Field(gt=0)
    max_frequency: float = Field(ge=0)
    max_grid: int = Field(ge=10)
    fap_method: str = Field(pattern="^(baluev|davies|naive|bootstrap)$")
    fap_threshold: float = Field(gt=0, lt=1)
    red_noise_slope: float
    sde_threshold: float
    bls_snr_threshold: float = Field(ge=0)
    bls_durations: list[float] = Field(min_length=1)
    bls_min_period: float = Field(gt=0)
    bls_frequency_factor: float = Field(gt=0)
    bls_max_grid: int = Field(ge=10)
    detrend: str = Field(pattern="^(biweight|median|none)$")
    detrend_window: float = Field(ge=0)
    alias_tolerance: float = Field(gt=0)
    max_harmonic: int = Field(ge=2)
    eb_depth: float = Field(gt=0)
    ls_threads: Workers
    bls_threads: Workers


class FusionConfig(_Section):
    by: str = Field(pattern="^(site_night|frame)$")
    bin_minutes: float = Field(gt=0)
    clip_sigma: float = Field(gt=0)
    min_comparison_stars: int = Field(ge=1)
    max_comparison_chi2: float = Field(gt=1)
    error_floor: bool
    keep_blends: bool


class VettingConfig(_Section):
    model: str
    seed: Seed
    n_train: int = Field(ge=10, le=1_000_000)
    n_val: int = Field(ge=10, le=1_000_000)
    n_test: int = Field(ge=10, le=1_000_000)
    nights: int = Field(ge=1, le=3660)
    cadence_min: float = Field(ge=0.1, le=1440)
    n_sites: int = Field(ge=1, le=100)
    snr_min: float = Field(ge=0)
    global_bins: int = Field(ge=11)
    local_bins: int = Field(ge=11)
    local_width: float = Field(gt=0)
    search_bls_grid: int = Field(ge=100)
    search_ls_grid: int = Field(ge=100)
    search_detrend: str = Field(pattern="^(biweight|median|none)$")
    search_bls_below_ls_power: float = Field(ge=0, le=1)
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(ge=1, le=65_536)
    learning_rate: float = Field(gt=0, le=10)
    weight_decay: float = Field(ge=0)
    dropout: float = Field(ge=0, lt=1)
    patience: int = Field(ge=1)
    workers: Workers
    torch_threads: int = Field(ge=1, le=1024)


class QualityConfig(_Section):
    model: str
    exclude_bad: bool
    exclude_anomalous: bool
    min_site_frames: int = Field(ge=1)
    seed: Seed
    nights: int = Field(ge=1, le=3660)
    n_fields: int = Field(ge=1, le=1000)
    frame_size: int = Field(ge=64, le=4096)
    max_frames_per_site: int = Field(ge=0)
    defect_rate: Probability
    galaxies: bool
    unseen_site: str
    holdout_defect: str = Field(pattern="^(clouds|tracking|defocus|dew|bright_background|trail|electronics)$")
    fpr: float = Field(gt=0, lt=1)
    n_estimators: int = Field(ge=1)
    num_leaves: int = Field(ge=2)
    learning_rate: float = Field(gt=0)
    min_child_samples: int = Field(ge=1)
    ae_epochs: int = Field(ge=1, le=10_000)
    ae_width: int = Field(ge=2, le=1024)
    ae_percentile: float = Field(gt=0, lt=100)
    adapt: Adapt
    adapt_weight: AdaptWeight
    workers: Workers


class TransientsConfig(_Section):
    reference_frames: int = Field(ge=1)
    method: str = Field(pattern="^(alard-lupton|gaussian)$")
    scale_order: int = Field(ge=0, le=3)
    detect_threshold: float = Field(gt=0)
    unet_min_sigma: float = Field(ge=0)
    match_radius: float = Field(gt=0)
    max_candidates_per_frame: int = Field(ge=1)
    backend: str = Field(pattern="^(onnx|torch)$")
    threads: Workers
    seed: Seed
    unseen_site: str
    frames_per_site: int = Field(ge=1, le=10_000)
    frame_size: int = Field(ge=64, le=4096)
    torch_threads: Workers
    associate_radius: float = Field(gt=0, le=60)  # arcsec: detections this close are one object (alerts stage)
    alert_history_days: float = Field(gt=0, le=3650)  # days of detections and upper limits a packet carries


class UnetConfig(_Section):
    model: str
    threshold: float = Field(gt=0, lt=1)
    width: int = Field(ge=2)
    depth: int = Field(ge=1, le=6)
    tile: int = Field(ge=16)
    learning_rate: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    patience: int = Field(ge=1)


class RealBogusConfig(_Section):
    model: str
    fnr: float = Field(gt=0, lt=1)
    width: int = Field(ge=2)
    dropout: float = Field(ge=0, lt=1)
    pos_weight: float = Field(gt=0)
    learning_rate: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    patience: int = Field(ge=1)
    adapt: Adapt
    adapt_weight: AdaptWeight
    adapt_target: str
    members: int = Field(ge=1, le=32)  # networks in a deep ensemble (1: one network)
    tta: bool  # score each stamp as the mean over its eight rotations and flips
    balance: float = Field(ge=0, le=1)  # draw training stamps with weight n_kind ** -balance
    difference_scale: str = Field(pattern="^(science|difference|both)$")  # the difference stamp in whose noise units
    init_seed: int = Field(ge=-1, le=2**32 - 1)  # initial weights and draws; -1: the chunks' ([transients] seed)


class AlertsConfig(_Section):
    filters: dict[str, Annotated[str, Field(min_length=1, max_length=4000)]]  # name -> SQL WHERE (alerts filter)
    interval: float = Field(gt=0, le=86400)  # seconds between polls of `alerts ingest --follow`


class AlertsModelConfig(_Section):
    model: str
    seed: Seed
    n_train: int = Field(ge=10, le=1_000_000)  # simulated objects (custom mode; full uses these too)
    n_val: int = Field(ge=10, le=1_000_000)
    n_test: int = Field(ge=10, le=1_000_000)
    ztf_fraction: Probability  # objects seen with the ZTF-like cadence, the rest by the network's sites
    n_estimators: int = Field(ge=1, le=10_000)
    num_leaves: int = Field(ge=2, le=1024)
    learning_rate: float = Field(gt=0, le=1)
    min_child_samples: int = Field(ge=1)
    colsample_bytree: float = Field(gt=0, le=1)
    calibration: str = Field(pattern="^(isotonic|none)$")
    threads: Workers


class _TransformerTraining(_Section):
    """What the two encoders of discovery share: a transformer's size and how it is pretrained."""

    model: str
    seed: Seed
    width: int = Field(ge=8, le=4096)
    depth: int = Field(ge=1, le=48)
    heads: int = Field(ge=1, le=64)
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(ge=1, le=65_536)
    learning_rate: float = Field(gt=0, le=1)
    patience: int = Field(ge=1)
    threads: Workers  # torch CPU threads while training: the same seed gives the same weights only with the same count


class EmbedConfig(_TransformerTraining):
    images: str  # "" = simulated galaxy cutouts; else a folder, FITS or .npz of the user's own images
    samples: int = Field(ge=16, le=10_000_000)  # pretraining cutouts (full and custom modes)
    probe_samples: int = Field(ge=20, le=1_000_000)  # held-out cutouts the linear probes read
    point_share: float = Field(ge=0.0, le=10.0)  # star and transient cutouts pretrained on, per galaxy cutout
    display_share: Probability  # of the simulated pretraining cutouts shown as 8-bit colour composites
    size: int = Field(ge=8, le=512)  # cutout side the encoder reads (pixels)
    patch: int = Field(ge=2, le=64)
    rings: int = Field(ge=1, le=64)  # the embedding: last-layer tokens averaged in this many rings around the centre
    symmetries: Annotated[int, Field(ge=1, le=8)]  # rotations and flips each embedding is averaged over

    @field_validator("symmetries")
    @classmethod
    def _whole_turns(cls, value: int) -> int:
        """A count the encoder can average over (`discovery.encoder.SYMMETRIES`: the first quarter turns, then
        their mirror images)."""
        from openastro.discovery.encoder import SYMMETRIES

        if value not in SYMMETRIES:
            raise ValueError(f"symmetries must be one of {', '.join(map(str, SYMMETRIES))}")
        return value

    index: str = Field(pattern="^(pq|hnsw)$")  # the search structure of `openastro embed` (discovery/ann.py)
    probes: int = Field(ge=1, le=4096)  # pq: k-means groups of vectors scanned per query
    rerank: int = Field(ge=1, le=4096)  # pq: the fast scan's best rerank x k re-ranked exactly
    connectivity: int = Field(ge=2, le=256)  # hnsw: the graph (usearch names)
    expansion_add: int = Field(ge=2, le=4096)
    expansion_search: int = Field(ge=2, le=4096)
    target_recall: Probability  # new objects' recall@10 each `openastro embed` widens the search to reach (0: off)


class EmbedLcConfig(_TransformerTraining):
    n_train: int = Field(ge=10, le=10_000_000)  # simulated objects the encoder pretrains on (full and custom modes)
    n_test: int = Field(ge=20, le=1_000_000)  # held-out simulated objects the class probes read
    max_len: int = Field(ge=2, le=4096)  # detections per object the encoder reads; longer curves are thinned


class ScheduleValueConfig(_Section):
    model: str
    seed: Seed  # the first simulated training night
    nights: int = Field(ge=2, le=5000)  # simulated training nights (seed .. seed + nights - 1)
    per_night: int = Field(ge=10, le=1_000_000)  # observations drawn per night
    n_requests: int = Field(ge=1, le=100_000)
    n_sites: int = Field(ge=1, le=64)
    held_out: int = Field(ge=1, le=1000)  # held-out nights (from 10000) the ROC AUC is measured on
    threads: Workers


class ScheduleConfig(_Section):
    slot_min: float = Field(ge=0.1, le=120.0)  # minutes per slot of the night grid
    slew_rate_deg_s: float = Field(gt=0.0, le=100.0)
    settle_s: NonNegative
    filter_change_s: NonNegative
    readout_s: NonNegative
    twilight: str = Field(pattern="^(astronomical|nautical|civil)$")
    max_airmass: float = Field(gt=1.0, le=40.0)
    min_moon_sep_deg: float = Field(ge=0.0, le=180.0)
    max_moon_illumination: Probability
    max_block_min: float = Field(gt=0.0, le=1440.0)
    urgency_weight: float = Field(ge=0.0, le=100.0)
    density_weight: float = Field(ge=0.0, le=4.0)
    seed: Seed
    forecast: str = Field(pattern="^(process|climate|clear)$")


class RequestsConfig(_Section):
    phase_bins: int = Field(ge=2, le=1000)
    min_phase_coverage: Probability
    periodic_priority: float = Field(ge=0.0, le=1e6)
    transit_priority: float = Field(ge=0.0, le=1e6)
    transient_priority: float = Field(ge=0.0, le=1e6)
    follow_up_h: float = Field(gt=0.0, le=24.0 * 365)
    exposure_s: float = Field(gt=0.0, le=86400.0)
    calibration_priority: float = Field(ge=0.0, le=1e6)
    history_nights: int = Field(ge=2, le=1000)
    drift_mads: float = Field(gt=0.0, le=1000.0)
    min_zp_drift: NonNegative
    bad_fraction_rise: Probability


class Config(_Section):
    sim: SimConfig
    photometry: PhotometryConfig
    run: RunConfig
    report: ReportConfig
    periods: PeriodsConfig
    fusion: FusionConfig
    vetting: VettingConfig
    quality: QualityConfig
    transients: TransientsConfig
    unet: UnetConfig
    realbogus: RealBogusConfig
    alerts: AlertsConfig
    alerts_model: AlertsModelConfig
    embed: EmbedConfig
    embed_lc: EmbedLcConfig
    schedule: ScheduleConfig
    schedule_value: ScheduleValueConfig
    requests: RequestsConfig

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), ready for TOML or JSON."""
        return self.model_dump(mode="json")
