"""Max, average, adaptive and power-average pooling in torch layouts."""

__all__: list[str] = []
