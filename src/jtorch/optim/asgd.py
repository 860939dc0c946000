"""ASGD: averaged SGD (torch.optim.ASGD)."""

__all__: list[str] = []
