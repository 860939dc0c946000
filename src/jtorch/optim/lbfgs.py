"""L-BFGS (torch.optim.LBFGS)."""

__all__: list[str] = []
