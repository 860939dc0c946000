"""Padding modules (ZeroPad2d, ConstantPad2d, ReflectionPad2d, ...)."""

__all__: list[str] = []
