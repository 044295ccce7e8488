"""Synthetic generators and real-format loaders for every model family."""
