"""The nightly report's "Transient candidates" section, on a small real catalog with synthetic candidates."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openastro.core.catalog import Catalog
from openastro.core.config import ReportConfig, load_config
from openastro.core.workspace import Workspace
from openastro.pipeline.report.night import write_report
from openastro.pipeline.report.transients import ANCHOR, NAN_GREY, STAMP_SCALE, stamp_uri
from openastro.transients.cutouts import cutouts_to_bytes

NIGHT = "2026-03-20"
FIELD = "F01"
CONFIG = ReportConfig(n_variable_stars=0, n_example_frames=0, n_candidates=2)
RA, DEC = 150.0, 2.0
# Object A: two real detections 0.5 arcsec apart (one card, 2 detections); object B: real, 36 arcsec away, the
# third best object so it lands in the table; object C: two real detections 1 px apart at a site without WCS.
BEST_A, SECOND_A, OBJECT_B = "alpha-00:000", "alpha-01:000", "alpha-02:000"
BEST_C, SECOND_C, BOGUS = "beta-00:000", "beta-01:000", "alpha-01:001"
URI = re.compile(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"')


def _stamps(rng: np.random.Generator) -> np.ndarray:
    """(3, 63, 63) science/reference/difference cutouts: noise, a source in science and difference."""
    yy, xx = np.mgrid[0:63, 0:63]
    blob = 500.0 * np.exp(-((xx - 31) ** 2 + (yy - 31) ** 2) / 8.0)
    sci, ref = 100.0 + rng.normal(0, 3, (63, 63)) + blob, 100.0 + rng.normal(0, 3, (63, 63))
    return np.stack([sci, ref, sci - ref])


def _candidate(cid: str, site: str, ra: float, x: float, rb: float, real: bool, rng: np.random.Generator) -> dict:
    """A `candidates` row as the candidates stage writes it."""
    frame = cid.split(":")[0]
    return {"candidate_id": cid, "kind": "transient", "frame_id": frame, "site_id": site, "field_id": FIELD,
            "mjd": 61120.0 + int(frame[-2:]) * 0.01, "ra": ra, "dec": DEC if np.isfinite(ra) else np.nan,
            "x": x, "y": 20.0, "flux": 1000.0, "snr": 12.5, "npix": 9, "sign": 1, "rb_score": rb,
            "unet_score": 0.7, "real": real, "score": rb, "model": "unet+realbogus",
            "cutout": cutouts_to_bytes(_stamps(rng)) if real else None}


def _candidates(rng: np.random.Generator) -> pd.DataFrame:
    """Four objects' worth of candidate rows (see the module constants)."""
    nan = float("nan")
    return pd.DataFrame([
        _candidate(BEST_A, "alpha", RA, 30.0, 0.95, True, rng),
        _candidate(SECOND_A, "alpha", RA + 0.5 / 3600, 30.4, 0.90, True, rng),
        _candidate(BOGUS, "alpha", RA + 0.02, 50.0, 0.10, False, rng),
        _candidate(OBJECT_B, "alpha", RA + 0.01, 40.0, 0.80, True, rng),
        _candidate(BEST_C, "beta", nan, 10.0, 0.85, True, rng),
        _candidate(SECOND_C, "beta", nan, 11.0, 0.70, True, rng),
    ])


def _workspace(root: Path, candidates: bool, references: bool) -> Workspace:
    """Frames of NIGHT at two sites (alpha-03 judged bad), optionally with references and candidates."""
    ws = Workspace.open(root)
    frames = [{"frame_id": f"{site}-{i:02d}", "path": f"frames/{site}-{i:02d}.fits", "site_id": site,
               "field_id": FIELD, "night": NIGHT, "mjd": 61120.0 + i * 0.01, "has_wcs": site == "alpha",
               "filter": "r"}
              for site, n in (("alpha", 4), ("beta", 2)) for i in range(n)]
    with Catalog(ws.catalog_path) as cat, cat.transaction():
        cat.insert("sites", [{"site_id": "alpha", "name": "Alpha Peak"}, {"site_id": "beta", "name": "Beta Ridge"}])
        cat.insert("frames", frames)
        cat.insert("frame_quality", [{"frame_id": "alpha-03", "verdict": "bad"},
                                     {"frame_id": "alpha-00", "verdict": "good"}])
        if references:
            cat.insert("reference_images", [
                {"site_id": "alpha", "field_id": FIELD, "filter": "r", "path": "references/alpha/F01.fits",
                 "n_frames": 3,
                 "fwhm_px": 2.25, "source": "frames", "inputs": "[]"},
                {"site_id": "beta", "field_id": FIELD, "filter": "r", "path": "references/beta/F01.fits",
                 "n_frames": 5,
                 "fwhm_px": 3.5, "source": "templates", "inputs": "[]"}])
        if candidates:
            cat.insert("candidates", _candidates(np.random.default_rng(3)))
    return ws


def _report(ws: Workspace) -> str:
    """The HTML of NIGHT's report."""
    with Catalog(ws.catalog_path) as cat:
        return write_report(cat, ws, NIGHT, CONFIG).read_text(encoding="utf-8")


def _section(html: str) -> str:
    """The transient candidates section of a report page, without the models' curves at its end."""
    match = re.search(rf'<section id="{ANCHOR}">.*?</section>', html, flags=re.S)
    assert match is not None, "no transient candidates section"
    return re.sub(r'<div class="models">.*?</div></div>', "", match.group(0), flags=re.S)


def test_section_shows_the_models_curves(tmp_path):
    """The held-out ROC/PR and loss curves of the models in use (here the shipped ones) close the section."""
    html = _report(_workspace(tmp_path / "ws", candidates=True, references=True))
    match = re.search(rf'<section id="{ANCHOR}">.*?</section>', html, flags=re.S)
    assert "Models, on held-out simulated chunks" in match.group(0)
    assert 'alt="unet: roc/pr"' in match.group(0) and 'alt="realbogus: roc/pr"' in match.group(0)


def _card_caption(section: str, candidate_id: str) -> str:
    """The caption of one candidate's card (the stamps' own captions carry a style attribute)."""
    match = re.search(rf'data-candidate-id="{re.escape(candidate_id)}".*?<figcaption>([^<]*)</figcaption>',
                      section, flags=re.S)
    assert match is not None, f"no card for {candidate_id}"
    return match.group(1)


@pytest.fixture(scope="module")
def section(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The section of a night with references and candidates."""
    return _section(_report(_workspace(tmp_path_factory.mktemp("ws"), candidates=True, references=True)))


def test_section_follows_frame_quality_and_names_the_method(tmp_path: Path) -> None:
    html = _report(_workspace(tmp_path, candidates=True, references=True))
    assert html.index('id="quality"') < html.index(f'id="{ANCHOR}"') < html.index('id="examples"')
    text = _section(html)
    assert "<h2>Transient candidates</h2>" in text
    assert "templates" in text and "U-Net" in text and "real or bogus" in text
    assert "<td>2.25</td>" in text and "<td>3.50</td>" in text  # reference FWHM of each site


def test_counts_per_site(section: str) -> None:
    # alpha: 4 frames, one bad -> 3 differenced; 4 candidates, 3 real. beta: 2, 2, 2.
    assert '<td class="text">Alpha Peak</td><td>3</td><td>4</td><td>3</td>' in section
    assert '<td class="text">Beta Ridge</td><td>2</td><td>2</td><td>2</td>' in section


def test_best_objects_are_cards_with_three_cutouts(section: str) -> None:
    cards = re.findall(r'<figure class="frame cutouts" data-candidate-id="([^"]+)"', section)
    assert cards == [BEST_A, BEST_C]
    assert len(URI.findall(section)) == 3 * len(cards)
    for label in ("science", "reference", "difference"):
        assert section.count(f'alt="{label}"') == len(cards)


def test_detections_of_one_object_make_one_card(section: str) -> None:
    caption_a, caption_c = _card_caption(section, BEST_A), _card_caption(section, BEST_C)
    assert caption_a.startswith("Alpha Peak, field F01, 2026-03-21 00:00:00 UTC, 10:00:00.00 +02:00:00")
    assert "rb 0.95" in caption_a and "U-Net 0.70" in caption_a and "S/N 12.5" in caption_a
    assert caption_a.endswith("2 detections, no catalogued host")  # these test rows name no host
    assert "x 10.0, y 20.0 px" in caption_c and caption_c.endswith("2 detections, no catalogued host")
    for hidden in (SECOND_A, SECOND_C, BOGUS):
        assert hidden not in section


def test_next_objects_are_listed_without_images(section: str) -> None:
    row = re.search(rf'<tr class="transient" data-candidate-id="{re.escape(OBJECT_B)}">(.*?)</tr>', section)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    assert cells == ["3", "Alpha Peak", "F01", "2026-03-21 00:28:48 UTC", "10:00:02.40 +02:00:00.00", "0.80", "0.70",
                     "12.5", "1", "no catalogued host"]


def test_cutout_png_is_upscaled_with_nan_grey() -> None:
    from PIL import Image

    stamp = _stamps(np.random.default_rng(0))[0]
    stamp[:5, :5] = np.nan  # bottom-left once row 0 is drawn at the bottom
    raw = base64.b64decode(stamp_uri(stamp).split(",", 1)[1])
    pixels = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    assert pixels.shape == (63 * STAMP_SCALE, 63 * STAMP_SCALE, 3)
    assert tuple(pixels[-1, 0]) == NAN_GREY and tuple(pixels[0, 0]) != NAN_GREY
    assert pixels[31 * STAMP_SCALE, 31 * STAMP_SCALE, 0] == 255  # the source saturates the stretch


def test_no_reference_says_why(tmp_path: Path) -> None:
    text = _section(_report(_workspace(tmp_path, candidates=False, references=False)))
    assert "No transient candidates" in text and "no reference image" in text and "data:image" not in text


def test_no_candidates_with_references(tmp_path: Path) -> None:
    text = _section(_report(_workspace(tmp_path, candidates=False, references=True)))
    assert "No transient candidates in the 5 frames differenced this night." in text


def test_n_candidates_default() -> None:
    assert load_config().report.n_candidates == 12
    assert ReportConfig(n_variable_stars=1, n_example_frames=1).n_candidates == 12


def test_a_candidate_on_a_galaxy_names_its_host() -> None:
    from types import SimpleNamespace

    from openastro.pipeline.report.transients import host_text

    on = SimpleNamespace(host_id=1_700_041, host_mag=16.93, host_offset=2.04)
    assert host_text(on) == 'on galaxy 1700041 (r 16.9), 2.0" from its centre'
    assert host_text(SimpleNamespace(host_id=pd.NA)) == "no catalogued host"
