"""SARE: speckle noise injected into the MAE input (the reconstruction target stays clean).

Two noise models:

``released`` (default) is what the published SARMAE code does (``util/sar_noise.py``, called once
per image by its data pipeline), for exact reproduction. Images are in [0, 1] and clamped to
[1e-8, 1] before and after. Each image is noised with probability ``noise_ratio`` and draws its
own level ``sigma`` uniformly in [noise_min, noise_max] (or a fixed level). For
``sigma > 0.05`` the noise is log-normal multiplicative, ``x' = x * exp(sigma * N(0, 1))`` (no
mean correction); for ``0 < sigma <= 0.05`` it is Gamma multiplicative with coefficient of
variation ``cv = 2 sigma`` (ENL = 1 / (4 sigma^2), mean 1) and the image is rescaled to keep its
mean. Channels that are copies of one grayscale image receive the same noise, so they stay
identical. Noise is applied before input normalisation; the MAE target is the clean image.

``gamma`` is the standard fully developed speckle model for intensity images: ``x' = x * n`` with
``n ~ Gamma(shape=L, scale=1/L)`` (mean 1, variance 1/L), L looks drawn uniformly in
[looks_min, looks_max] per sample. Use it for linear-power inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from sargeo.models.mae import generator_device

GAMMA_SIGMA_LIMIT = 0.05  #: at or below this level the released code switches to Gamma noise
EPS = 1e-8


@dataclass
class SpeckleNoise:
    """Callable SARE noise: ``noisy = SpeckleNoise(...)(images)``; see the module docstring."""

    noise_ratio: float = 0.5
    noise_min: float = 0.0
    noise_max: float = 0.7
    random_level: bool = True
    level: float = 0.3  #: the fixed sigma when ``random_level`` is False
    mode: Literal["released", "gamma"] = "released"
    looks_min: float = 1.0
    looks_max: float = 8.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise_ratio <= 1.0:
            raise ValueError(f"noise_ratio must be in [0, 1], got {self.noise_ratio}")
        if not 0.0 <= self.noise_min <= self.noise_max:
            raise ValueError(f"need 0 <= noise_min <= noise_max, got {self.noise_min}, "
                             f"{self.noise_max}")
        if self.mode not in ("released", "gamma"):
            raise ValueError(f"unknown speckle mode {self.mode!r}; use 'released' or 'gamma'")
        if not 0.0 < self.looks_min <= self.looks_max:
            raise ValueError(f"need 0 < looks_min <= looks_max, got {self.looks_min}, "
                             f"{self.looks_max}")

    def draw_sigma(self, n: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` noise levels, one per image."""
        if not self.random_level:
            return torch.full((n,), float(self.level))
        u = torch.rand(n, generator=generator, device=generator_device(generator))
        return self.noise_min + (self.noise_max - self.noise_min) * u

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(noisy, noised)``: the images with speckle on a random share of samples, and
        the (B,) boolean flag of which samples were noised."""
        b = images.shape[0]
        noised = torch.rand(b, generator=generator,
                            device=generator_device(generator)) < self.noise_ratio
        if not bool(noised.any()):
            return images, noised.to(images.device)
        selected = images[noised.to(images.device)]
        if self.mode == "released":
            out = released_speckle(selected, self.draw_sigma(len(selected), generator),
                                   generator)
        else:
            looks = self.looks_min + (self.looks_max - self.looks_min) * torch.rand(
                selected.shape[0], generator=generator, device=generator_device(generator))
            out = gamma_speckle(selected, looks, generator)
        result = images.clone()
        result[noised.to(images.device)] = out.to(images.dtype)
        return result, noised.to(images.device)


def _noise_shape(images: torch.Tensor) -> tuple[int, ...]:
    """One noise channel when all channels are identical (grayscale repeated), else one each."""
    b, c, h, w = images.shape
    same = c > 1 and bool((images == images[:, :1]).all())
    return (b, 1, h, w) if same or c == 1 else (b, c, h, w)


def released_speckle(images: torch.Tensor, sigma: torch.Tensor | float,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The released SARMAE noise on images in [0, 1], one level ``sigma`` per image (or one
    for all)."""
    x = images.float().clamp(EPS, 1.0)
    b = x.shape[0]
    sigma_t = torch.as_tensor(sigma, dtype=torch.float32).flatten().expand(b) if torch.as_tensor(
        sigma).numel() == 1 else torch.as_tensor(sigma, dtype=torch.float32)
    shape = _noise_shape(x)
    s = sigma_t.view(-1, 1, 1, 1).to(x.device)
    draw_on = generator_device(generator, "cpu")
    lognormal = x * torch.exp(s * torch.randn(shape, generator=generator,
                                              device=draw_on).to(x.device))
    enl = 1.0 / (4.0 * sigma_t.clamp_min(1e-4) ** 2)
    shapes = enl.view(-1, 1, 1, 1).expand(shape).contiguous().to(draw_on)
    gamma = x * (torch._standard_gamma(shapes, generator=generator) / shapes).to(x.device)
    dims = tuple(range(1, x.ndim))
    gamma = gamma * (x.mean(dims, keepdim=True) / gamma.mean(dims, keepdim=True).clamp_min(EPS))
    out = torch.where(s > GAMMA_SIGMA_LIMIT, lognormal, gamma)
    out = torch.where(s > 0, out, x)
    return out.clamp(EPS, 1.0)


def gamma_speckle(images: torch.Tensor, looks: torch.Tensor | float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiplicative Gamma speckle with ``looks`` (scalar or per sample): mean 1, var 1/L."""
    x = images.float()
    shape = _noise_shape(x)
    looks_t = torch.as_tensor(looks, dtype=torch.float32).reshape(-1, 1, 1, 1)
    looks_t = looks_t.expand(shape[0], *shape[1:]) if looks_t.shape[0] > 1 else looks_t.expand(
        shape)
    looks_t = looks_t.contiguous().to(generator_device(generator, looks_t.device))
    n = torch._standard_gamma(looks_t, generator=generator) / looks_t
    return x * n.to(x.device)
