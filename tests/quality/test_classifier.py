"""Frame quality: context features, per-site normalisation and the LightGBM classifier, on synthetic frames."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from openastro.quality.classifier import QualityClassifier, phrase
from openastro.quality.context import context_features, context_reasons
from openastro.quality.featureset import CONTEXT_FEATURES
from openastro.quality.normalize import SiteNormalizer, raw_inputs

# site: typical FWHM (px), sky (ADU), zero point (mag), sources, detector temperature (C)
SITES = {"A": (2.2, 300.0, 21.5, 800.0, -15.0), "B": (3.5, 900.0, 22.3, 1500.0, -5.0),
         "C": (2.8, 150.0, 20.8, 400.0, 0.0), "D": (5.5, 3000.0, 19.6, 250.0, 10.0)}
DEFECTS = ("defocus", "clouds", "streak", "trailing")


def _site_frames(site: str, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features and one-hot defect labels of `n` frames of one site (about 1 in 3 frames has a defect)."""
    fwhm, sky, zp, nsrc, temp = SITES[site]
    airmass = 1 / np.sin(np.radians(rng.uniform(25, 85, n)))
    f = pd.DataFrame({
        "airmass": airmass, "moon_sep": rng.uniform(20, 170, n), "ccd_temp": np.full(n, temp),
        "fwhm_px": fwhm * airmass ** 0.6 * np.exp(rng.normal(0, 0.08, n)),
        "ellipticity": np.clip(rng.normal(0.06, 0.02, n), 0, 1),
        "sky": sky * np.exp(rng.normal(0, 0.2, n)),
        "zero_point": zp - 0.15 * (airmass - 1) + rng.normal(0, 0.04, n),
        "n_sources": nsrc * np.exp(rng.normal(0, 0.1, n)),
        "streak": np.where(rng.random(n) < 0.6, 0.0, np.abs(rng.normal(0.3, 0.2, n))),
    })
    kind = rng.choice(len(DEFECTS) + 1, n, p=[0.09, 0.09, 0.07, 0.07, 0.68])
    labels = pd.DataFrame({d: (kind == i).astype(int) for i, d in enumerate(DEFECTS)})
    m = labels.to_numpy(dtype=bool).T
    f.loc[m[0], "fwhm_px"] *= rng.uniform(1.8, 3.0, m[0].sum())
    f.loc[m[0], "n_sources"] *= 0.6
    drop = rng.uniform(0.4, 1.5, m[1].sum())
    f.loc[m[1], "zero_point"] -= drop
    f.loc[m[1], "n_sources"] *= 10 ** (-0.3 * drop)
    f.loc[m[2], "streak"] = rng.uniform(20, 80, m[2].sum())
    f.loc[m[3], "ellipticity"] += rng.uniform(0.15, 0.4, m[3].sum())
    return f, labels


def _frames(sites: str = "ABCD", n: int = 500, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Features, defect labels and site of frames from several sites."""
    rng = np.random.default_rng(seed)
    parts = [_site_frames(s, n, rng) for s in sites]
    features = pd.concat([p[0] for p in parts], ignore_index=True)
    labels = pd.concat([p[1] for p in parts], ignore_index=True)
    return features, labels, pd.Series(np.repeat(list(sites), n))


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    return _frames()


@pytest.fixture(scope="module")
def fitted(data) -> tuple[SiteNormalizer, QualityClassifier, pd.DataFrame]:
    features, labels, sites = data
    norm = SiteNormalizer()
    X = norm.fit_transform(features, sites)
    model = QualityClassifier(n_estimators=150, seed=3).fit(X, labels.any(axis=1).to_numpy(), defects=labels)
    return norm, model, X


# ---- classifier


def test_save_load_round_trip(fitted, tmp_path) -> None:
    norm, model, X = fitted
    bad = model.predict_proba(X) > 0.5
    model.set_threshold_for_fpr(X, bad, fpr=0.05)
    model.save(tmp_path)
    again = QualityClassifier.load(tmp_path)
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
    pd.testing.assert_frame_equal(again.predict_defects(X), model.predict_defects(X))
    assert again.threshold_ == model.threshold_ and again.defects_ == list(DEFECTS)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["lightgbm_version"] and meta["params"]["n_estimators"] == 150 and meta["state"]["threshold_"]
    assert sorted(p.name for p in tmp_path.glob("*.txt.gz")) == ["quality_bad.txt.gz"] + [
        f"quality_defect_{i}.txt.gz" for i in range(len(DEFECTS))]


def test_fits_bad_and_defects(data, fitted) -> None:
    features, labels, _ = data
    _, model, X = fitted
    assert model.score(X, labels.any(axis=1)) > 0.95
    defects = model.predict_defects(X)
    for name in DEFECTS:
        assert defects.loc[labels[name] == 1, name].mean() > defects.loc[labels[name] == 0, name].mean() + 0.5
    assert model.feature_importances().index[0] in {"z_fwhm_px", "z_zero_point", "streak", "z_streak",
                                                    "ellipticity", "z_ellipticity", "z_n_sources"}
    few = labels.assign(rare=0)
    few.loc[:2, "rare"] = 1
    sparse = QualityClassifier(n_estimators=10).fit(X, labels.any(axis=1).to_numpy(), defects=few[["rare"]])
    assert sparse.defects_ == [] and "rare" in sparse.notes_[0]


def test_threshold_for_fpr(fitted, data) -> None:
    from openastro.ml.metrics import threshold_at_fpr

    _, model, X = fitted
    bad = data[1].any(axis=1).to_numpy()
    model = QualityClassifier.load(_saved(model))
    t = model.set_threshold_for_fpr(X, bad, fpr=0.1)
    flagged = model.predict(X)
    assert np.mean(flagged[~bad]) <= 0.1 and model.threshold_ == t
    assert t == threshold_at_fpr(model.predict_proba(X)[~bad], 0.1)  # the one tie rule of ml.metrics
    assert np.array_equal(model.predict(X, threshold=0.0), np.ones(len(X), dtype=bool))
    # with validation frames, fit sets the threshold at its `fpr` of them
    held = QualityClassifier(n_estimators=40, fpr=0.1).fit(X, bad, X, bad)
    assert held.threshold_ == threshold_at_fpr(held.predict_proba(X)[~bad], 0.1)
    assert QualityClassifier(n_estimators=40).fit(X, bad).threshold_ == 0.5


def _saved(model: QualityClassifier) -> str:
    """The model saved into a fresh temporary folder."""
    import tempfile

    folder = tempfile.mkdtemp()
    model.save(folder)
    return folder


def test_explains_a_defocused_frame(data, fitted) -> None:
    features, labels, sites = data
    norm, model, _ = fitted
    good_a = features[(sites == "A") & ~labels.any(axis=1)]
    median = norm.site_reference("A", "fwhm_px")
    i = (good_a["fwhm_px"] - median).abs().idxmin()  # a typical frame, then defocused by 2.5x
    frame = features.loc[[i]].copy()
    frame["fwhm_px"] *= 2.5
    site = sites.loc[[i]]
    X = norm.transform(frame, site)
    assert model.predict_proba(X)[0] > 0.5
    reasons = model.explain(X, norm, frame, site, top=3)[0]
    fwhm = [r for r in reasons if r.startswith("FWHM ")]
    assert fwhm, reasons
    ratio = float(re.match(r"FWHM ([\d.]+)x site median", fwhm[0]).group(1))
    assert abs(ratio - 2.5) < 0.2
    refs = {"A": {"fwhm_px": median}}
    assert any(r.startswith("FWHM ") for r in model.explain(X, refs, frame, site)[0])


def test_phrases_read_raw_values_against_the_site() -> None:
    assert phrase("fwhm_px", 6.2, 2.0) == "FWHM 3.1x site median"
    assert phrase("zero_point", 20.7, 21.5) == "zero point -0.80 mag vs site median"
    assert phrase("moon_sep", 12.2, np.nan) == "Moon separation 12 deg"
    assert phrase("streak", 45.0, 0.3) == "streak strength 45 (site median 0.3)"
    assert phrase("sky", np.nan, 300.0) == "sky level not measured"


def test_site_normalisation_carries_to_an_unseen_site(data) -> None:
    features, labels, sites = data
    bad = labels.any(axis=1).to_numpy()
    train, test = (sites != "D").to_numpy(), (sites == "D").to_numpy()
    norm = SiteNormalizer().fit(features[train], sites[train])
    z_train, z_test = norm.transform(features[train], sites[train]), norm.transform(features[test], sites[test])
    r_train, r_test = raw_inputs(features[train]), raw_inputs(features[test])
    auc_norm = QualityClassifier(n_estimators=150).fit(z_train, bad[train]).score(z_test, bad[test])
    auc_raw = QualityClassifier(n_estimators=150).fit(r_train, bad[train]).score(r_test, bad[test])
    assert auc_norm > 0.95
    assert auc_norm > auc_raw + 0.1, (auc_norm, auc_raw)


# ---- normaliser


def test_normaliser_columns_nans_and_floors(data) -> None:
    features, _, sites = data
    f = features.copy()
    f.loc[::7, "fwhm_px"] = np.nan
    f.loc[::11, "sky"] = 0.0  # not positive: no log
    X = SiteNormalizer().fit_transform(f, sites)
    assert list(X.columns) == ["airmass", "z_ccd_temp", "moon_sep", "z_fwhm_px", "z_ellipticity", "z_sky",
                               "z_n_sources", "z_zero_point", "z_streak"]  # featureset order
    assert X["z_fwhm_px"].isna().to_numpy().tolist() == f["fwhm_px"].isna().to_numpy().tolist()
    assert X.loc[::11, "z_sky"].isna().all() and X["z_sky"].notna().sum() > 0.9 * len(X)
    assert np.isfinite(X["z_ccd_temp"]).all() and (X["z_ccd_temp"] == 0).all()  # constant: floor, no 0/0
    assert X["z_streak"].abs().max() > 30 and np.isfinite(X["z_streak"]).all()  # mostly 0: scale of the non-zero values
    assert (X["airmass"] == f["airmass"]).all()
    model = QualityClassifier(n_estimators=20).fit(X, np.arange(len(X)) % 3 == 0)
    assert np.isfinite(model.predict_proba(X)).all()


def test_normaliser_unseen_and_tiny_sites(data) -> None:
    features, _, sites = data
    abc = (sites != "D").to_numpy()
    d = ~abc
    norm = SiteNormalizer(min_frames=10).fit(features[abc], sites[abc])
    own = norm.transform(features[d], sites[d])
    assert own["z_fwhm_px"].median() == pytest.approx(0, abs=0.05)  # its own history
    pooled = norm.transform(features[d], sites[d], refit_unknown=False)
    assert pooled["z_fwhm_px"].median() > 1
    assert "D" not in norm.stats_ and norm.uses_pooled(sites[d]).all()
    assert not norm.uses_pooled(sites[d], features[d]).any()
    tiny = features[d].iloc[:5]
    assert np.allclose(norm.transform(tiny, sites[d].iloc[:5]), norm.transform(tiny, sites[d].iloc[:5],
                                                                                 refit_unknown=False), equal_nan=True)
    norm.update(features[d], sites[d])
    pd.testing.assert_frame_equal(norm.transform(features[d], sites[d], refit_unknown=False), own)
    assert norm.site_reference("D", "fwhm_px") == pytest.approx(features.loc[d, "fwhm_px"].median(), rel=0.01)

    with_tiny = pd.concat([features[abc], tiny], ignore_index=True)
    tiny_sites = pd.Series(list(sites[abc]) + ["E"] * 5)
    norm = SiteNormalizer(min_frames=10).fit(with_tiny, tiny_sites)
    assert set(norm.pooled_) == {"E"} and norm.uses_pooled(tiny_sites).sum() == 5
    pooled_e = norm.transform(tiny, pd.Series(["new"] * 5), refit_unknown=False)
    assert np.allclose(norm.transform(tiny, pd.Series(["E"] * 5)), pooled_e, equal_nan=True)


def test_normaliser_state_is_json(data) -> None:
    features, _, sites = data
    site_ids = sites.map({"A": 1, "B": 2, "C": 3, "D": 4})  # integer site ids survive JSON too
    norm = SiteNormalizer().fit(features, site_ids)
    again = SiteNormalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    pd.testing.assert_frame_equal(again.transform(features, site_ids), norm.transform(features, site_ids))
    assert again.site_reference(2, "sky") == pytest.approx(norm.site_reference(2, "sky"))
    assert set(raw_inputs(features).columns) == set(features.columns)
    assert raw_inputs(features)["fwhm_px"].equals(np.log10(features["fwhm_px"]))
    copied = norm.copy()
    copied.update(features.iloc[:40], pd.Series([1] * 40))
    assert copied.stats_[1] != norm.stats_[1] and copied.raw_inputs(features).equals(raw_inputs(features))


# ---- context


def _site_frame(mjd: float, **extra: float) -> dict[str, float]:
    return {"mjd": mjd, "exptime": 0.0, "lat": 31.9, "lon": -111.6, "elevation_m": 2100.0, "ra": np.nan,
            "dec": np.nan, "airmass": np.nan, "ccd_temp": -20.0, **extra}


def test_context_moon_and_sun() -> None:
    from astropy.time import Time

    full, new = Time("2026-03-03T11:35:00").mjd, Time("2026-03-19T01:25:00").mjd
    days = np.arange(-12, 13, 3) / 24
    frames = pd.DataFrame([_site_frame(full + d) for d in days] + [_site_frame(new + d) for d in days])
    f = context_features(frames)
    assert list(f.columns) == list(CONTEXT_FEATURES)
    n, near = len(days), np.abs(days) <= 3 / 24
    assert (f["moon_illum"][:n] > 0.95).all() and (f["moon_illum"][n:] < 0.05).all()
    # within 3 h of full Moon (an eclipse: on the ecliptic) it stands opposite the Sun, of new Moon beside it
    full_alt, new_alt = f["moon_alt"][:n][near], f["moon_alt"][n:][near]
    assert np.allclose(full_alt, -f["sun_alt"][:n][near], atol=3.0)
    assert np.allclose(new_alt, f["sun_alt"][n:][near], atol=6.0)
    assert f["sun_alt"].max() > 40 and f["sun_alt"].min() < -40
    assert f["moon_sep"].isna().all() and (f["ccd_temp"] == -20).all()


@pytest.mark.filterwarnings("ignore:Tried to get polar motions")
def test_context_agrees_with_astropy_altaz() -> None:
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body, get_sun
    from astropy.time import Time

    rng = np.random.default_rng(5)
    n = 40
    frames = pd.DataFrame({"mjd": 61_000 + rng.uniform(0, 900, n), "exptime": rng.uniform(0, 600, n),
                           "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-60, 60, n),
                           "lat": rng.uniform(-40, 60, n), "lon": rng.uniform(-180, 180, n),
                           "elevation_m": rng.uniform(0, 3000, n)})
    f = context_features(frames)
    c = {k: frames[k].to_numpy() for k in frames}
    t = Time(c["mjd"] + c["exptime"] / 2 / 86400, format="mjd", scale="utc")
    site = EarthLocation.from_geodetic(c["lon"] * u.deg, c["lat"] * u.deg, c["elevation_m"] * u.m)
    frame = AltAz(obstime=t, location=site)
    moon = get_body("moon", t, location=site).transform_to(frame)
    target = SkyCoord(c["ra"] * u.deg, c["dec"] * u.deg).transform_to(frame)
    assert np.abs(f["moon_alt"] - moon.alt.deg).max() < 0.05
    assert np.abs(f["sun_alt"] - get_sun(t).transform_to(frame).alt.deg).max() < 0.05
    assert np.abs(f["moon_sep"] - target.separation(moon).deg).max() < 0.05
    up = target.alt.deg > 10
    assert np.allclose(f["airmass"][up], 1 / np.sin(target.alt.rad[up]), rtol=1e-3)


def test_context_airmass_from_geometry() -> None:
    import astropy.units as u
    from astropy.time import Time

    t = Time("2026-05-10T07:00:00")
    lst = t.sidereal_time("mean", longitude=-111.6 * u.deg).deg
    start = t.mjd - 300 / 86400  # mid-exposure at t
    rows = [_site_frame(start, exptime=600.0, ra=lst, dec=31.9), _site_frame(start, exptime=600.0, ra=lst, dec=-28.1),
            _site_frame(start, exptime=600.0, ra=lst, dec=-28.1, airmass=1.234),
            _site_frame(start, exptime=600.0, ra=lst, dec=-28.1, airmass=0.0),
            _site_frame(start, ra=lst + 180, dec=-60.0)]
    f = context_features(pd.DataFrame(rows, index=[10, 11, 12, 13, 14]))
    assert f.loc[10, "airmass"] == pytest.approx(1.0, abs=0.01)  # on the meridian at the zenith
    assert f.loc[11, "airmass"] == pytest.approx(2.0, rel=0.02)  # on the meridian, 30 deg up
    assert f.loc[12, "airmass"] == 1.234 and f.loc[13, "airmass"] == pytest.approx(2.0, rel=0.02)
    assert np.isnan(f.loc[14, "airmass"])
    reasons = context_reasons(pd.DataFrame(rows, index=[10, 11, 12, 13, 14]), f)  # keyed by position
    assert reasons == {0: {}, 1: {}, 2: {}, 3: {}, 4: {"airmass": "frame centre below the horizon"}}


def test_context_missing_inputs_at_ten_thousand_frames() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    frames = pd.DataFrame({"mjd": 61_000 + rng.uniform(0, 400, n), "exptime": rng.uniform(10, 300, n),
                           "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-60, 60, n),
                           "lat": rng.uniform(-40, 50, n), "lon": rng.uniform(-180, 180, n),
                           "elevation_m": rng.uniform(0, 2500, n), "airmass": np.nan, "ccd_temp": -10.0})
    frames.loc[0, "lat"] = np.nan
    frames.loc[1, ["ra", "exptime"]] = np.nan
    frames.loc[2, "mjd"] = np.nan
    f = context_features(frames)
    assert f.index.equals(frames.index) and f.iloc[3:].drop(columns="airmass").notna().all().all()
    assert f.loc[0, ["moon_alt", "sun_alt", "airmass"]].isna().all() and np.isfinite(f.loc[0, "moon_sep"])
    assert np.isnan(f.loc[1, "moon_sep"]) and np.isfinite(f.loc[1, "moon_alt"])
    assert f.loc[2].drop(["exptime", "ccd_temp"]).isna().all()
    reasons = context_reasons(frames.iloc[:4])
    assert reasons[0]["moon_alt"] == "no site coordinates (lat/lon)"
    assert reasons[1] == {"airmass": "no frame centre (ra/dec)", "exptime": "no exposure time in the header",
                          "moon_sep": "no frame centre (ra/dec)"}
    assert set(reasons[2]) == {"airmass", "moon_alt", "moon_sep", "moon_illum", "sun_alt"} and reasons[3] == {}
    assert context_features(frames.drop(columns=["ccd_temp", "airmass"]).iloc[:3])["ccd_temp"].isna().all()
