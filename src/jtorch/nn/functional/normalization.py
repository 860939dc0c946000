"""Batch, layer, group, instance and local-response normalization."""

__all__: list[str] = []
