"""ZTF alert packets (real ones from the shared data) and the numpy cutout helpers of openastro.transients."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io

import numpy as np
import pytest

from openastro.core.errors import InputError
from openastro.transients.alerts import alert_fields, decode_stamp, read_alerts, save_cutout_pngs
from openastro.transients.cutouts import augment, cutout, normalise_triplet, stamp_triplet
from tests.campaign.mutate import rewrite_avro, stamp


@pytest.fixture(scope="module")
def transients(realdata):
    """The shared folder of real ZTF alert packets."""
    return realdata / "transients"


@pytest.fixture(scope="module")
def pgb_alerts(transients):
    """The 50 Pitt-Google test alerts."""
    return read_alerts(transients / "pgb_alerts_for_testing")


def test_schema_32_alert_with_negative_subtraction(transients):
    (alert,) = read_alerts(transients / "ztf_2019_01_10_739260766315010006.avro")
    assert alert.objectId == "ZTF17aaacxxf" and alert.candid == 739260766315010006 and alert.schema == "3.2"
    assert alert.candidate["rb"] == pytest.approx(0.447, abs=1e-3)
    assert alert.candidate["isdiffpos"] == "f"
    assert alert.science.shape == alert.template.shape == alert.difference.shape == (63, 63)
    assert alert.science.dtype == np.float32 and len(alert.prv_candidates) > 0
    fields = alert_fields(alert)
    assert fields["filter"] == "r" and fields["mjd"] == pytest.approx(alert.candidate["jd"] - 2400000.5)
    assert fields["ssnamenr"] is None and "drb" not in fields


def test_schema_33_alert_has_drb(transients):
    (alert,) = read_alerts(transients / "ztf_472263571115115000.avro")
    assert alert.objectId == "ZTF17aaajnnn" and alert.schema == "3.3"
    fields = alert_fields(alert, keys=["rb", "drb", "isdiffpos"])
    assert fields == {
        "rb": pytest.approx(0.843, abs=1e-3),
        "drb": pytest.approx(0.988, abs=1e-3),
        "isdiffpos": "t",
    }


def test_pgb_alerts_match_their_labels(transients, pgb_alerts):
    with (transients / "pgb_alerts_for_testing" / "labels.csv").open() as handle:
        labels = {row["file"]: row for row in csv.DictReader(handle)}
    assert len(pgb_alerts) == len(labels) == 50
    for alert in pgb_alerts:
        row = labels[alert.file.rsplit("/", 1)[-1]]
        assert alert.objectId == row["objectId"] and alert.candid == int(row["candid"])
        assert alert.candidate["rb"] == pytest.approx(float(row["rb"]))
        assert alert.cutouts().shape == (3, 63, 63)


def test_cutouts_keep_nan_and_centre_smaller_stamps(pgb_alerts):
    with_nan = next(a for a in pgb_alerts if a.objectId == "ZTF18abfiprz")
    assert np.isnan(with_nan.cutouts()).any()
    small = dataclasses.replace(with_nan, science=np.ones((41, 63), np.float32))
    stack = small.cutouts()
    assert stack.shape == (3, 63, 63)
    assert np.isnan(stack[0, :11]).all() and np.isnan(stack[0, 52:]).all() and (stack[0, 11:52] == 1).all()


def test_decode_stamp_reads_plain_and_gzipped_fits():
    from astropy.io import fits

    image = np.arange(480, dtype=np.float32).reshape(20, 24)
    buffer = io.BytesIO()
    fits.PrimaryHDU(image).writeto(buffer)
    plain = buffer.getvalue()
    np.testing.assert_array_equal(decode_stamp(plain), image)
    np.testing.assert_array_equal(decode_stamp(gzip.compress(plain)), image)
    with pytest.raises(InputError):
        decode_stamp(b"not a fits file at all")


def test_save_cutout_pngs_writes_three_images(pgb_alerts, tmp_path):
    from matplotlib.image import imread

    alert = pgb_alerts[0]
    paths = save_cutout_pngs(alert, tmp_path / "pngs")
    assert [p.name for p in paths] == [
        f"{alert.objectId}_{alert.candid}_{n}.png" for n in ("science", "template", "difference")
    ]
    for path in paths:
        image = imread(path)
        assert image.shape[:2] == (252, 252) and image.std() > 0.01


def test_bad_inputs_raise_input_error_naming_the_file(realdata, tmp_path):
    fits_file = realdata / "ccd" / "ccdproc_saao1m_a8280271.fits"
    with pytest.raises(InputError, match="ccdproc_saao1m_a8280271.fits.*not an Avro"):
        read_alerts(fits_file)
    with pytest.raises(InputError, match="missing.avro.*does not exist"):
        read_alerts(tmp_path / "missing.avro")
    with pytest.raises(InputError, match="no .avro files"):
        read_alerts(tmp_path)


def test_avro_without_cutouts_is_not_an_alert(tmp_path):
    import fastavro

    schema = {
        "type": "record",
        "name": "thin",
        "fields": [
            {"name": "objectId", "type": "string"},
            {"name": "candid", "type": "long"},
            {"name": "candidate", "type": {"type": "map", "values": "double"}},
        ],
    }
    path = tmp_path / "thin.avro"
    with path.open("wb") as handle:
        fastavro.writer(handle, schema, [{"objectId": "ZTFx", "candid": 1, "candidate": {"rb": 0.5}}])
    with pytest.raises(InputError, match="thin.avro.*cutoutScience"):
        read_alerts(path)
    del schema["fields"][1]
    with path.open("wb") as handle:
        fastavro.writer(handle, schema, [{"objectId": "ZTFx", "candidate": {"rb": 0.5}}])
    with pytest.raises(InputError, match="thin.avro.*not an alert packet"):
        read_alerts(path)


def test_cutout_pads_edges_with_nan_and_centres_on_nearest_pixel():
    image = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    stamp = cutout(image, 0, 0, size=5)
    assert stamp[2, 2] == image[0, 0]
    assert np.isnan(stamp[:2]).all() and np.isnan(stamp[:, :2]).all() and not np.isnan(stamp[2:, 2:]).any()
    assert cutout(image, 10.4, 20.6, size=7)[3, 3] == image[21, 10]
    assert np.isnan(cutout(image, 100, 100, size=5)).all()


def test_stamp_triplet_stacks_in_order():
    images = [np.full((20, 20), value, np.float32) for value in (1.0, 2.0, 3.0)]
    triplet = stamp_triplet(*images, x=10, y=10, size=9)
    assert triplet.shape == (3, 9, 9) and triplet[:, 4, 4].tolist() == [1.0, 2.0, 3.0]


def test_normalise_triplet_ignores_level_and_units(pgb_alerts):
    raw = next(a for a in pgb_alerts if a.objectId == "ZTF18abfiprz").cutouts()
    reference = normalise_triplet(raw)
    assert not np.isnan(reference).any() and reference.dtype == np.float32 and reference.std() > 0.1
    np.testing.assert_allclose(normalise_triplet(raw * 7.5 + 1234.0), reference, atol=1e-4)
    batch = normalise_triplet(np.stack([raw, raw * 0.01]))
    np.testing.assert_allclose(batch, np.stack([reference, reference]), atol=1e-4)


def test_augment_moves_pixels_only_and_is_reproducible():
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(16, 1, 8, 8)).astype(np.float32)
    batch = np.concatenate([batch, 2 * batch], axis=1)
    out = augment(batch, np.random.default_rng(42))
    np.testing.assert_array_equal(out, augment(batch, np.random.default_rng(42)))
    np.testing.assert_array_equal(
        np.sort(out.reshape(16, -1), axis=1), np.sort(batch.reshape(16, -1), axis=1)
    )
    np.testing.assert_array_equal(out[:, 1], 2 * out[:, 0])
    assert sum(not np.array_equal(o, b) for o, b in zip(out, batch, strict=True)) >= 8


def test_normalised_difference_keeps_the_fractional_change(pgb_alerts):
    """A 2 % and a 20 % change of the same star differ after normalisation (each channel scaled on its own,
    they would be identical)."""
    science, reference, _ = next(a for a in pgb_alerts if a.objectId == "ZTF18abfiprz").cutouts()
    small = normalise_triplet(np.stack([science, reference, 0.02 * science]))
    large = normalise_triplet(np.stack([science, reference, 0.2 * science]))
    c = science.shape[-1] // 2
    assert large[2, c, c] > small[2, c, c] + 1.0
    np.testing.assert_allclose(small[:2], large[:2])


def test_stored_cutouts_clip_saturated_values_instead_of_overflowing():
    import zlib

    from openastro.transients.cutouts import cutouts_to_bytes

    stored = np.frombuffer(zlib.decompress(cutouts_to_bytes(np.array([[[1e6, -1e6, 1.5]]]))), np.float16)
    assert np.isfinite(stored).all() and stored[0] > 6e4 and stored[1] < -6e4 and stored[2] == 1.5


def _rewritten(source, path, change):
    """The packet `source` written again to `path` with `change(record)` applied to its one record."""
    rewrite_avro(source, path, change)
    return path


def _stamp(shape) -> bytes:
    return stamp(shape)


def test_object_id_cannot_lead_the_pngs_out_of_their_folder(transients, tmp_path, cli):
    packet = _rewritten(transients / "ztf_472263571115115000.avro", tmp_path / "evil.avro",
                        lambda r: r.update(objectId="../../evil/x"))
    out = tmp_path / "a" / "b" / "pngs"
    code, _, _ = cli("alerts", "show", packet, "--out", out, "--json")
    assert code == 0
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.png"))
    assert len(written) == 3 and all(p.parent == out.relative_to(tmp_path) for p in written)
    assert all(p.name.startswith("_.._evil_x_") for p in written)


@pytest.mark.parametrize("shape", [(1, 1), (63, 1), (500, 500)])
def test_stamps_of_the_wrong_size_are_refused(transients, tmp_path, shape):
    packet = _rewritten(transients / "ztf_472263571115115000.avro", tmp_path / "odd.avro",
                        lambda r: r["cutoutScience"].update(stampData=_stamp(shape)))
    with pytest.raises(InputError, match=rf"odd.avro: cutout stamp is {shape[0]}x{shape[1]} px"):
        read_alerts(packet)


def test_truncated_and_flipped_stamps_are_corrupt_packets(transients, tmp_path):
    def truncate(record):
        plain = gzip.decompress(record["cutoutDifference"]["stampData"])
        record["cutoutDifference"]["stampData"] = plain[: len(plain) // 2]

    def flip(record):
        data = bytearray(record["cutoutTemplate"]["stampData"])
        for i in range(len(data) // 2, len(data) // 2 + 4):
            data[i] ^= 0xFF
        record["cutoutTemplate"]["stampData"] = bytes(data)

    for name, change in (("truncated", truncate), ("flipped", flip)):
        packet = _rewritten(transients / "ztf_472263571115115000.avro", tmp_path / f"{name}.avro", change)
        with pytest.raises(InputError, match=rf"{name}.avro: cutout stamp is not a FITS image") as exc:
            read_alerts(packet)
        assert "\n" not in str(exc.value)


def test_bytes_flipped_anywhere_in_a_packet_end_in_one_line(transients, tmp_path):
    raw = (transients / "ztf_472263571115115000.avro").read_bytes()
    rng = np.random.default_rng(14)
    for trial in range(30):
        data = bytearray(raw)
        for where in rng.integers(len(raw) // 3, len(raw), 4):  # past the schema header: the records
            data[where] = int(rng.integers(256))
        path = tmp_path / f"m{trial}.avro"
        path.write_bytes(bytes(data))
        try:
            alerts = read_alerts(path)
        except InputError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            continue
        assert all(a.cutouts().shape == (3, 63, 63) for a in alerts)
