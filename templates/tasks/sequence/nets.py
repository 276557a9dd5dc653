"""Plain PyTorch networks, free of Lightning, so they can be reused and exported on their own."""

from __future__ import annotations

from torch import Tensor, nn

State = tuple[Tensor, Tensor]


class LSTMForecaster(nn.Module):
    """One-step-ahead forecasts: an LSTM reads the series, a linear head maps each hidden state to
    the next values of every variable.

    Args:
        input_size: Variables per time step (linked from the data module).
        hidden_size: LSTM state size.
        num_layers: Stacked LSTM layers.
        dropout: Dropout between LSTM layers (with 2 or more).
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 64, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            input_size, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, series: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Forecasts for steps 1..T of a (batch, T, input_size) series, and the LSTM state after it."""
        hidden, state = self.lstm(series, state)
        return self.head(hidden), state
