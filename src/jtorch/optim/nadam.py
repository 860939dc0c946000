"""NAdam (torch.optim.NAdam)."""

__all__: list[str] = []
