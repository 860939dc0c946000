"""MultiheadAttention with torch parameter names."""

__all__: list[str] = []
