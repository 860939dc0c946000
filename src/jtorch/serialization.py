"""torch.serialization's allow-list for loading: which classes and functions a full-model
checkpoint may name (see jtorch.checkpoint._trust for the rules)."""

from jtorch.checkpoint import add_safe_globals, clear_safe_globals, get_safe_globals

__all__ = ["add_safe_globals", "get_safe_globals", "clear_safe_globals"]
