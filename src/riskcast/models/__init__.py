"""Forecast models in the scikit-learn contract: baselines and a logistic/Poisson GLM."""
from riskcast.models.baselines import Climatology, Persistence
from riskcast.models.linear import LogisticCount

__all__ = ["Climatology", "Persistence", "LogisticCount", "make_models"]


def make_models(C: float = 0.5, climatology_months: int = 12) -> dict:
    """The models a run compares, by name: two baselines and the logistic model."""
    k = climatology_months
    return {
        "climatology": Climatology(share_column=f"rolling_share_any_window{k}", sum_column=f"rolling_sum_window{k}", window=k),
        "persistence": Persistence(),
        "logistic": LogisticCount(C=C),
    }
