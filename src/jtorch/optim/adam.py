"""Adam (torch.optim.Adam)."""

__all__: list[str] = []
