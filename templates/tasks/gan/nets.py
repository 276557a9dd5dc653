"""Plain PyTorch networks, free of Lightning: a DCGAN-style generator and discriminator for small images."""

from __future__ import annotations

import math

from torch import Tensor, nn


def bottleneck_shape(image_shape: tuple[int, int, int], width: int) -> tuple[int, int, int]:
    """Channels, height, width of the smallest feature map: two factors of 2 below the image."""
    _, height, width_px = image_shape
    return 2 * width, math.ceil(height / 4), math.ceil(width_px / 4)


class Generator(nn.Module):
    """Noise to images: a linear map to a small feature map, two upsampling stages, tanh to [-1, 1].

    Args:
        image_shape: Channels, height, width of the images it generates (linked from the data module).
        latent_dim: Size of its noise input (kept as `latent_dim`: the GAN draws noise of this size).
        width: Channels of the last upsampling stage; the first uses 2x.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 8, 8), latent_dim: int = 32, width: int = 32) -> None:
        super().__init__()
        self.image_shape, self.latent_dim = image_shape, latent_dim
        self.grid = bottleneck_shape(image_shape, width)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, math.prod(self.grid), bias=False),
            nn.BatchNorm1d(math.prod(self.grid)),
            nn.ReLU(inplace=True),
        )
        self.features = nn.Sequential(
            *self.up(2 * width, width),
            *self.up(width, width),
            nn.Conv2d(width, image_shape[0], 3, padding=1),
            nn.Tanh(),
        )

    @staticmethod
    def up(in_channels: int, out_channels: int) -> list[nn.Module]:
        """Double the resolution (nearest neighbour, no checkerboard artefacts), convolve, normalise."""
        return [
            nn.Upsample(scale_factor=2),
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]

    def forward(self, noise: Tensor) -> Tensor:
        """Images in [-1, 1], shape (batch, *image_shape)."""
        images = self.features(self.project(noise).view(-1, *self.grid))
        return images[..., : self.image_shape[1], : self.image_shape[2]]


class Discriminator(nn.Module):
    """Images to one real-versus-generated logit: strided convolutions with leaky ReLUs, then a linear layer.

    Args:
        image_shape: Channels, height, width of the images it judges (linked from the data module).
        width: Channels of the first convolution; the second uses 2x.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 8, 8), width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(image_shape[0], width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
        )
        self.classify = nn.Linear(math.prod(bottleneck_shape(image_shape, width)), 1)

    def forward(self, images: Tensor) -> Tensor:
        """Logits, shape (batch,): high for images the discriminator takes for real."""
        return self.classify(self.features(images)).squeeze(-1)
