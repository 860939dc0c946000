"""Adagrad (torch.optim.Adagrad)."""

__all__: list[str] = []
