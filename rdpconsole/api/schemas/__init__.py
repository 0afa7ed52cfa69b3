"""JSON Schemas of request bodies and query strings, as Nova 28.0.0 validates them."""
