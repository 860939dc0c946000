"""Padding (pad with constant/reflect/replicate/circular modes)."""

__all__: list[str] = []
