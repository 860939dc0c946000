"""RMSprop (torch.optim.RMSprop)."""

__all__: list[str] = []
