"""The `rumbo` command line."""
