"""Response documents in Nova's shapes."""
