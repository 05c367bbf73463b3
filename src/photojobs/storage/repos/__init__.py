"""One repository module per table. Each function takes a connection as its first argument."""
