"""RAdam (torch.optim.RAdam)."""

__all__: list[str] = []
