"""Embedding lookups (embedding, embedding_bag, one_hot)."""

__all__: list[str] = []
