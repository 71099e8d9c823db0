"""Real/bogus classification through ONNX Runtime must reach 2,000 cutouts per second on 2 cores.

Ours: RealBogusClassifier.load(folder, backend="onnx", threads=2).predict_proba on 20,000 raw (3, 63, 63)
float32 stamps (a Moffat source at two seeings on noisy skies, the unmatched difference, 5% NaN-padded like
cutouts at a frame edge), fed CHUNK stamps per call as a pipeline would: one call on all 20,000 would hold
several GB of float64 temporaries in the normalisation. This rate includes normalise_triplet, part of
predict_proba. Peers, 2 threads, same run: the library's torch backend (eager, no_grad) and the same network in
eager torch with channels-last weights and inputs under inference_mode. Network-only rates (normalised stamps in,
logits out, the runtime's batches of 256) come from the best of REPEATS interleaved rounds after a warm-up on the
first NET_STAMPS stamps; the normalisation rate is timed on the same stamps, and torch's end-to-end rate is
derived from the two (the normalisation does not depend on the backend). The machine is shared: the load average
is recorded. Weights: the shipped ones when present, else a seeded untrained network; `weights` says which.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_difference import interleaved_best, load_average
from benchmarks.bench_unet_onnx import channels_last_runner, model_folder

TARGET_CUTOUTS_PER_S = 2_000
N_STAMPS, CHUNK, NET_STAMPS = 20_000, 2_000, 2_000
THREADS, REPEATS = 2, 2
EDGE_FRACTION = 0.05


def moffat_stamps(flux: np.ndarray, fwhm: float, offsets: np.ndarray, size: int, beta: float = 3.0) -> np.ndarray:
    """(n, size, size) unit-sum Moffat sources scaled by `flux`, centred `offsets` (n, 2) px from the centre."""
    grid = np.arange(size, dtype=np.float32) - size // 2
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    dy = grid[None, :, None] - offsets[:, 1, None, None]
    dx = grid[None, None, :] - offsets[:, 0, None, None]
    profile = (1 + (dx * dx + dy * dy) / alpha**2) ** -beta
    return (flux[:, None, None] * profile / profile.sum(axis=(1, 2), keepdims=True)).astype(np.float32)


def raw_stamps(n: int = N_STAMPS, size: int = 63, seed: int = 0) -> np.ndarray:
    """n raw (science, reference, difference) stamps: n / 8 simulated ones under the 8 rotations and flips of the
    square, then EDGE_FRACTION of them NaN-padded on one side as cutouts at a frame edge are."""
    rng = np.random.default_rng(seed)
    base_n = -(-n // 8)
    flux = (10 ** rng.uniform(2.5, 5.0, base_n)).astype(np.float32)
    offsets = rng.uniform(-1, 1, (base_n, 2)).astype(np.float32)
    reference = moffat_stamps(flux, 2.5, offsets, size) + 300 + rng.normal(0, 18, (base_n, size, size))
    brightening = rng.choice([1.0, 0.9, 3.0], base_n).astype(np.float32)  # steady, slightly fainter, new flux
    science = moffat_stamps(flux * brightening, 3.5, offsets, size) + 200 + rng.normal(0, 15, (base_n, size, size))
    base = np.stack([science, reference, science - reference], axis=1).astype(np.float32)
    turned = [np.rot90(base, k, axes=(-2, -1)) for k in range(4)]
    stamps = np.concatenate([*turned, *(t[..., ::-1] for t in turned)])[:n]
    stamps = np.ascontiguousarray(stamps)
    for i in rng.choice(n, int(EDGE_FRACTION * n), replace=False):
        stamps[i, :, :, : rng.integers(5, size // 2)] = np.nan
    return stamps


def chunked_rate(predict: Any, stamps: np.ndarray) -> tuple[float, float]:
    """Cutouts per second of `predict` over all `stamps` fed CHUNK at a time, and of its fastest chunk."""
    times = []
    for start in range(0, len(stamps), CHUNK):
        begin = time.perf_counter()
        predict(stamps[start:start + CHUNK])
        times.append(time.perf_counter() - begin)
    return len(stamps) / sum(times), min(CHUNK, len(stamps)) / min(times)


def network_rates(folder: Path, ours: Any, inputs: np.ndarray) -> dict[str, float]:
    """Network-only cutouts per second of ONNX Runtime and the two torch peers on normalised `inputs`."""
    from openastro.ml.runtime import batched
    from openastro.transients.realbogus import RealBogusClassifier

    eager = RealBogusClassifier.load(folder, backend="torch", threads=THREADS)
    fast_eager = channels_last_runner(RealBogusClassifier.load(folder, backend="torch", threads=THREADS).model)
    calls = {"onnx": lambda: ours.runner()(inputs), "torch": lambda: eager.runner()(inputs),
             "torch_channels_last": lambda: batched(fast_eager, inputs, 256)}
    return {name: len(inputs) / seconds for name, seconds in interleaved_best(calls, REPEATS).items()}


def main() -> dict:
    from openastro.transients.cutouts import normalise_triplet
    from openastro.transients.realbogus import RealBogusClassifier

    stamps = raw_stamps()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        folder, weights = model_folder(RealBogusClassifier, "realbogus", Path(tmp))
        ours = RealBogusClassifier.load(folder, backend="onnx", threads=THREADS)
        ours.predict_proba(stamps[:256])
        rate, best_chunk_rate = chunked_rate(ours.predict_proba, stamps)
        start = time.perf_counter()
        inputs = normalise_triplet(stamps[:NET_STAMPS])
        normalise_rate = NET_STAMPS / (time.perf_counter() - start)
        net = network_rates(folder, ours, inputs)
    torch_rate = 1 / (1 / normalise_rate + 1 / max(net["torch"], net["torch_channels_last"]))
    normalise_share = (1 / normalise_rate) / (1 / normalise_rate + 1 / net["onnx"])
    print(f"   ONNX Runtime predict_proba: {rate:,.0f} cutouts/s ({best_chunk_rate:,.0f} best chunk); torch eager "
          f"(derived, faster peer) {torch_rate:,.0f}; ratio {rate / torch_rate:.2f}x. Network only: ONNX "
          f"{net['onnx']:,.0f}/s, torch {net['torch']:,.0f}/s, torch channels-last "
          f"{net['torch_channels_last']:,.0f}/s; normalisation {normalise_rate:,.0f}/s "
          f"({normalise_share:.0%} of ONNX predict_proba time)")
    return {"cutouts_per_s": round(rate), "best_chunk_cutouts_per_s": round(best_chunk_rate),
            "peer": "torch eager at the same threads: library backend (no_grad) and channels-last + "
                    "inference_mode; end-to-end rate derived from the faster",
            "peer_cutouts_per_s": round(torch_rate), "speedup_vs_peer": round(rate / torch_rate, 2),
            "network_cutouts_per_s": {name: round(value) for name, value in net.items()},
            "network_speedup_vs_torch": round(net["onnx"] / net["torch"], 2),
            "network_speedup_vs_torch_channels_last": round(net["onnx"] / net["torch_channels_last"], 2),
            "normalise_cutouts_per_s": round(normalise_rate), "normalise_share_of_onnx_time": round(normalise_share, 3),
            "stamps": N_STAMPS, "chunk": CHUNK, "network_stamps": NET_STAMPS, "edge_fraction": EDGE_FRACTION,
            "threads": THREADS, "repeats": REPEATS, "weights": weights,
            "load_average_before": load_before, "load_average_after": load_average(),
            "target_cutouts_per_s": TARGET_CUTOUTS_PER_S, "target_met": rate >= TARGET_CUTOUTS_PER_S}
