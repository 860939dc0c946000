"""AdamW (torch.optim.AdamW)."""

__all__: list[str] = []
