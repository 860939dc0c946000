"""Convolutions in torch layouts (NCL/NCHW/NCDHW inputs, OI... weights)."""

__all__: list[str] = []
