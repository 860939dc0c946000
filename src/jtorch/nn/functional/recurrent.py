"""RNN, LSTM and GRU cells and sequence scans (lax.scan) in torch's gate order."""

__all__: list[str] = []
