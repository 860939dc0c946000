"""SparseAdam (torch.optim.SparseAdam) on dense gradients."""

__all__: list[str] = []
