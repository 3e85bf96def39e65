"""Placeholder: shocks features are being written."""
__all__: list[str] = []
