"""Placeholder: presence features are being written."""
__all__: list[str] = []
