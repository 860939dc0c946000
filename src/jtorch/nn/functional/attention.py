"""Scaled dot-product and multi-head attention with torch's packed projections."""

__all__: list[str] = []
