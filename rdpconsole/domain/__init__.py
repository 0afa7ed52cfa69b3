"""The domain: servers and console tokens, with no HTTP and no sockets."""
