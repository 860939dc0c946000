"""Conv1d/2d/3d and ConvTranspose1d/2d over jtorch.nn.functional.conv."""

__all__: list[str] = []
