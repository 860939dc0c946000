"""Resampling: interpolate/upsample, pixel_shuffle, pixel_unshuffle."""

__all__: list[str] = []
