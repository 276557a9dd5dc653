"""Plain PyTorch networks, free of Lightning, so they can be reused and exported on their own."""

from __future__ import annotations

from torch import Tensor, nn


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """A VGG-style CNN for small images: three stages of width w, 2w, 4w, global pooling, a linear head.

    Works for any input size of at least 4x4 (8x8 digits, 28x28 MNIST, 32x32 CIFAR).

    Args:
        input_shape: Channels, height, width of one image (linked from the data module).
        num_classes: Number of classes (linked from the data module).
        width: Channels of the first stage; later stages use 2x and 4x.
        dropout: Dropout before the linear head.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 8, 8),
        num_classes: int = 10,
        width: int = 32,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            conv_block(input_shape[0], width),
            conv_block(width, width),
            nn.MaxPool2d(2),
            conv_block(width, 2 * width),
            conv_block(2 * width, 2 * width),
            nn.MaxPool2d(2),
            conv_block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * width, num_classes))

    def forward(self, images: Tensor) -> Tensor:
        """Class logits, shape (batch, num_classes)."""
        return self.head(self.backbone(images))
