"""Domain adaptation for the shared Trainer: `Total = task + lambda * domain` on a network's penultimate features.

Two domain terms, chosen by name (`METHODS`):

- `dann`: a small domain classifier (`DomainHead`) behind a gradient-reversal layer learns which domain (a
  simulated site, or the real target) each sample comes from; the reversed gradient, scaled by lambda, pushes
  the features to hide it (Ganin & Lempitsky 2015). The head learns at full strength; lambda scales the reversal.
- `mmd`: the squared maximum mean discrepancy (Gaussian kernels at five bandwidths around the median distance)
  between each domain's features and the others' in the batch, scaled by lambda (Long et al. 2015).

lambda ramps from 0 to `weight` over training along the DANN schedule 2 / (1 + exp(-10 p)) - 1, p the fraction
of steps done. A network adapts when it has `embed(x)` (the penultimate features, (N, D)), `from_embedding(z)`
(the output from them: `forward(x) == from_embedding(embed(x))`) and `embed_dim` (D). Training batches then
carry a domain index per sample, (x, y, domain); an unlabelled `target` dataset (the real data) is the last
domain, drawn in batches of the same size beside every source batch. Torch is imported inside the functions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from openastro.core.errors import InputError

METHODS = ("none", "dann", "mmd")
BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)  # kernel widths, in units of the median squared distance


def check_method(method: str, option: str = "--adapt") -> str:
    """`method` when it is one of METHODS, else a one-line InputError."""
    if method not in METHODS:
        raise InputError(f"{option} {method!r}: use one of {', '.join(METHODS)}")
    return method


def ramp(progress: float) -> float:
    """The DANN schedule: 0 at the start of training, near 1 from about a third of it on."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0


def grad_reverse(x: Any, coeff: float = 1.0) -> Any:
    """x unchanged in the forward pass; the gradient multiplied by -coeff in the backward pass."""
    return _reversal()(x, coeff)


@functools.cache
def _reversal() -> Any:
    """The gradient-reversal autograd function (built on first use, so torch loads only then)."""
    import torch

    class GradReverse(torch.autograd.Function):
        """Identity forward, negated and scaled gradient backward."""

        @staticmethod
        def forward(ctx: Any, x: Any, coeff: float) -> Any:
            ctx.coeff = coeff
            return x.view_as(x)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> tuple[Any, None]:
            return -ctx.coeff * grad, None

    return GradReverse.apply


def domain_head(in_features: int, n_domains: int, hidden: int = 64) -> Any:
    """The domain classifier: features -> hidden (ReLU) -> one logit per domain."""
    from torch import nn

    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, n_domains))


def mmd(x: Any, y: Any, bandwidths: tuple[float, ...] = BANDWIDTHS) -> Any:
    """Squared MMD (biased, so >= 0 and exactly 0 for identical samples) between samples x (n, D) and y (m, D),
    with a sum of Gaussian kernels whose widths are `bandwidths` times the median pairwise squared distance."""
    import torch

    x, y = x.float().flatten(1), y.float().flatten(1)
    both = torch.cat([x, y])
    d2 = torch.cdist(both, both).pow(2)
    scale = d2.detach()[d2.detach() > 0].median() if (d2.detach() > 0).any() else d2.new_tensor(1.0)
    kernel = sum(torch.exp(-d2 / (b * scale)) for b in bandwidths) / len(bandwidths)
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


def domain_mmd(features: Any, domains: Any) -> Any:
    """The mean over the domains in a batch of the MMD between one domain's features and all others'; 0 when
    fewer than two domains hold two samples each."""
    present = [d for d in domains.unique() if int((domains == d).sum()) >= 2 and int((domains != d).sum()) >= 2]
    if len(present) < 2:
        return features.sum() * 0.0
    return sum(mmd(features[domains == d], features[domains != d]) for d in present) / len(present)


@dataclass
class DomainAdaptation:
    """The domain term a Trainer adds to its task loss (see the module's docstring); `domain` of `Trainer`."""

    method: str  # "dann" or "mmd"
    weight: float = 0.1  # lambda at the end of the ramp
    n_domains: int = 2  # source domains, plus one when there is a target
    target: Any = None  # an unlabelled torch dataset of target inputs (items x, or (x, ...)); None: sources only
    hidden: int = 64  # units of the DANN domain classifier
    seed: int = 0
    head: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        if check_method(self.method, "adaptation") == "none":
            raise InputError("adaptation 'none' adds no domain term; pass no DomainAdaptation instead")
        if self.target is not None and not len(self.target):
            raise InputError("the target domain holds no samples; give unlabelled target data or none")
        if self.n_domains < 2:
            raise InputError(f"domain adaptation needs two domains or more, got {self.n_domains}: give "
                             "unlabelled target data or training data from several domains (sites)")

    def parameters(self, model: Any, device: Any) -> list[Any]:
        """Build what the term trains beside the model (the DANN head) on `device`; its parameters."""
        if not hasattr(model, "embed"):
            raise InputError(f"{type(model).__name__} has no embed(); it cannot be trained with domain adaptation")
        if self.method != "dann":
            return []
        from openastro.ml.device import seed_everything

        seed_everything(self.seed)
        self.head = domain_head(int(model.embed_dim), self.n_domains, self.hidden).to(device)
        return list(self.head.parameters())

    def train(self) -> None:
        """The head in training mode (the Trainer calls it at every epoch)."""
        if self.head is not None:
            self.head.train()

    def __call__(self, model: Any, x: Any, domains: Any, step: int,
                 total_steps: int) -> tuple[Any, Any, Any, float]:
        """One training step: the model's output for the source batch x, the term to add to the task loss, the
        domain loss itself (DANN's cross-entropy or the MMD) and lambda now."""
        import torch

        lam = self.weight * ramp(step / max(total_steps, 1))
        n = len(x)
        if self.target is not None:
            target = self.target_batch(n, step).to(x.device, x.dtype)
            x = torch.cat([x, target])
            domains = torch.cat([domains.to(x.device).long(),
                                 torch.full((len(target),), self.n_domains - 1, device=x.device)])
        domains = domains.to(x.device).long()
        z = model.embed(x)
        output = model.from_embedding(z[:n])
        if self.method == "dann":
            loss = torch.nn.functional.cross_entropy(self.head(grad_reverse(z, lam)).float(), domains)
            return output, loss, loss, lam  # lambda acts in the reversal: the head itself learns at full strength
        loss = domain_mmd(z, domains)
        return output, lam * loss, loss, lam

    def target_batch(self, n: int, step: int) -> Any:
        """n target inputs drawn with replacement; the draw depends on the seed and step only (exact resume)."""
        import torch

        rng = np.random.default_rng([self.seed, step])
        items = [self.target[int(i)] for i in rng.integers(0, len(self.target), n)]
        return torch.stack([torch.as_tensor(item[0] if isinstance(item, list | tuple) else item) for item in items])

    def state_dict(self) -> dict[str, Any]:
        """The head's weights (empty for mmd), for checkpoints."""
        return {} if self.head is None else self.head.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` gave."""
        if self.head is not None and state:
            self.head.load_state_dict(state)


def adaptation(method: str, weight: float, n_domains: int, target: Any = None,
               seed: int = 0) -> DomainAdaptation | None:
    """The Trainer's domain term for a model's `adapt` setting; None for "none"."""
    if check_method(method) == "none":
        return None
    return DomainAdaptation(method, weight, n_domains + (target is not None), target, seed=seed)


def domain_codes(names: Any) -> tuple[np.ndarray, list[str]]:
    """Integer domain codes of per-sample domain names (sorted names: code i is names[i])."""
    values = np.asarray(names, dtype=object).astype(str)
    known = sorted(set(values))
    return np.searchsorted(known, values).astype(np.int64), known


def features_mmd(network: Any, a: np.ndarray, b: np.ndarray, batch: int = 256) -> float:
    """The MMD between a network's embeddings of two float32 input arrays (eval mode, no gradients)."""
    import torch

    network.eval()
    with torch.no_grad():
        za, zb = (torch.cat([network.embed(torch.as_tensor(v[i:i + batch])) for i in range(0, len(v), batch)])
                  for v in (a, b))
        return float(mmd(za, zb))
