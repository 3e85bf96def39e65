"""Region-month features: history, spatial spill-over (more families arrive with the feature library)."""
from riskcast.features.base import Feature, FeatureContext, compute_features
from riskcast.features.history import Current, Decay, Lag, RollingShareAny, RollingSum, TimeSince
from riskcast.features.spatial import CountryTotal, SpatialLag

__all__ = [
    "Feature",
    "FeatureContext",
    "compute_features",
    "Current",
    "Lag",
    "RollingSum",
    "RollingShareAny",
    "TimeSince",
    "Decay",
    "SpatialLag",
    "CountryTotal",
    "default_features",
]


def default_features(lags=(1, 2, 3), windows=(3, 6, 12), halflife: float = 6.0, spatial: bool = True) -> list[Feature]:
    """The thin default set: current count, lags, rolling sums and shares, decay, spill-over."""
    feats: list[Feature] = [Current(), Current(source="n_fatalities")]
    feats += [Lag(k) for k in lags]
    feats += [RollingSum(w) for w in windows]
    feats += [RollingShareAny(w) for w in windows]
    feats += [TimeSince(), Decay(halflife)]
    if spatial:
        feats += [SpatialLag(1), SpatialLag(1, source="n_target", stat="mean"), SpatialLag(2), CountryTotal()]
    return feats
