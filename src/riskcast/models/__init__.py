"""Forecast models in the scikit-learn contract: baselines and a logistic/Poisson GLM."""
from riskcast.models.baselines import Climatology, Persistence
from riskcast.models.linear import LogisticCount

__all__ = ["Climatology", "Persistence", "LogisticCount", "make_models"]


def make_models(C: float, climatology_months: int, columns: dict) -> dict:
    """The models a run compares, by name, each reading the columns named in ``columns``.

    ``columns``: ``full`` and ``history`` (lists; history may be None), ``share``, ``sum`` and
    ``current`` (the baselines' columns). Models know nothing of how the columns were made.
    """
    models = {
        "climatology": Climatology(share_column=columns["share"], sum_column=columns["sum"], window=climatology_months),
        "persistence": Persistence(column=columns["current"]),
    }
    if columns.get("history"):
        models["logistic_history"] = LogisticCount(columns=tuple(columns["history"]), C=C)
    models["logistic"] = LogisticCount(columns=tuple(columns["full"]), C=C)
    return models
