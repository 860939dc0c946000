"""Upsample, PixelShuffle, PixelUnshuffle."""

__all__: list[str] = []
