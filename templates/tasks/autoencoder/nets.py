"""Plain PyTorch networks, free of Lightning, so they can be reused and exported on their own."""

from __future__ import annotations

import math

from torch import Tensor, nn


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Double the resolution (nearest neighbour), then a convolution block: no checkerboard artefacts."""
    return nn.Sequential(nn.Upsample(scale_factor=2), conv_block(in_channels, out_channels))


def bottleneck_shape(input_shape: tuple[int, int, int], width: int) -> tuple[int, int, int]:
    """Channels, height, width after two stride-2 stages."""
    _, height, width_px = input_shape
    return 2 * width, math.ceil(height / 4), math.ceil(width_px / 4)


class Encoder(nn.Module):
    """Images to embeddings: convolutions that halve the resolution twice, then a linear map.

    Args:
        input_shape: Channels, height, width of one image.
        latent_dim: Size of the embedding.
        width: Channels of the first convolution stage (the second uses 2x).
    """

    def __init__(self, input_shape: tuple[int, int, int], latent_dim: int = 16, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_block(input_shape[0], width),
            conv_block(width, width, stride=2),
            conv_block(width, 2 * width, stride=2),
            nn.Flatten(),
        )
        self.project = nn.Linear(math.prod(bottleneck_shape(input_shape, width)), latent_dim)

    def forward(self, images: Tensor) -> Tensor:
        """Embeddings, shape (batch, latent_dim)."""
        return self.project(self.features(images))


class Decoder(nn.Module):
    """Embeddings to images: a linear map to a small feature map, then two upsampling stages.

    Args:
        output_shape: Channels, height, width of one reconstructed image.
        latent_dim: Size of the embedding.
        width: Channels of the upsampling stages (the feature map they start from has 2x).
    """

    def __init__(self, output_shape: tuple[int, int, int], latent_dim: int = 16, width: int = 32) -> None:
        super().__init__()
        self.output_shape = output_shape
        self.grid = bottleneck_shape(output_shape, width)
        self.project = nn.Sequential(nn.Linear(latent_dim, math.prod(self.grid)), nn.ReLU(inplace=True))
        self.features = nn.Sequential(
            up_block(2 * width, width),
            up_block(width, width),
            nn.Conv2d(width, output_shape[0], 3, padding=1),
        )

    def forward(self, embeddings: Tensor) -> Tensor:
        """Reconstructed images, shape (batch, *output_shape), cropped to size when it is not a multiple of 4."""
        images = self.features(self.project(embeddings).view(-1, *self.grid))
        return images[..., : self.output_shape[1], : self.output_shape[2]]


class ConvAutoEncoder(nn.Module):
    """An `Encoder` and a `Decoder` of the same shape: images to embeddings and back.

    Args:
        input_shape: Channels, height, width of one image (linked from the data module).
        latent_dim: Size of the embedding.
        width: Channels of the first convolution stage (the second uses 2x).
    """

    def __init__(self, input_shape: tuple[int, int, int] = (1, 8, 8), latent_dim: int = 16, width: int = 32) -> None:
        super().__init__()
        self.encoder = Encoder(input_shape, latent_dim, width)
        self.decoder = Decoder(input_shape, latent_dim, width)

    def forward(self, images: Tensor) -> Tensor:
        """Reconstructed images, shape (batch, *input_shape)."""
        return self.decoder(self.encoder(images))
