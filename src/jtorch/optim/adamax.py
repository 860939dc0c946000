"""Adamax (torch.optim.Adamax)."""

__all__: list[str] = []
