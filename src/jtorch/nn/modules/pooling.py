"""Pooling modules over jtorch.nn.functional.pooling."""

__all__: list[str] = []
