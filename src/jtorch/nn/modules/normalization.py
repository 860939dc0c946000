"""BatchNorm, LayerNorm, GroupNorm, InstanceNorm, LocalResponseNorm."""

__all__: list[str] = []
