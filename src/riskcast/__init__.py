"""riskcast: month-by-month forecasts of armed-attack risk per region, explained."""

__all__ = ["__version__"]
__version__ = "0.1.0"
