"""Adadelta (torch.optim.Adadelta)."""

__all__: list[str] = []
