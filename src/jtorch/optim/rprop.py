"""Rprop (torch.optim.Rprop)."""

__all__: list[str] = []
