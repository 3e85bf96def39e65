"""Count distributions shared by the models: negative-binomial dispersion, quantiles, P(any).

The negative binomial is parameterised by its mean ``mu`` and size ``r`` (``Var = mu + mu**2 / r``);
``r = inf`` is the Poisson limit. Models predict ``mu``; one size per fitted model turns that
point forecast into quantiles and into P(count >= 1), so every count model answers the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special, stats
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

__all__ = [
    "SIZE_MIN",
    "SIZE_MAX",
    "fit_nb_size",
    "nb_quantiles",
    "nb_prob_any",
    "hurdle_quantiles",
    "logit",
    "fit_input",
    "predict_input",
    "column",
    "index_of",
    "ContractTags",
    "NBCountMixin",
    "ParamNames",
]

# Sizes below ~0.05 put almost all mass on 0 with absurd tails; above ~1e4 the NB is a Poisson
# to any precision we can measure on a few thousand rows. Clipping keeps quantiles sane when the
# fit sees only zeros or a handful of huge counts.
SIZE_MIN, SIZE_MAX = 0.05, 1e4
_EPS = 1e-9


def _clean(y_count, mu) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_count, dtype=float).ravel()
    m = np.asarray(mu, dtype=float).ravel()
    ok = np.isfinite(y) & np.isfinite(m) & (y >= 0)
    return y[ok], np.clip(m[ok], _EPS, None)


def fit_nb_size(y_count, mu, method: str = "ml") -> float:
    """The NB size ``r`` that best explains counts ``y_count`` around means ``mu``.

    Args:
        y_count: observed counts (NaN rows are ignored).
        mu: the model's expected counts for the same rows.
        method: ``"ml"`` (maximum likelihood over log r) or ``"moments"``
            (``1/r = sum((y - mu)**2 - mu) / sum(mu**2)``).

    Returns:
        The size, clipped to ``[SIZE_MIN, SIZE_MAX]``; ``SIZE_MAX`` when there is no over-dispersion
        or no usable rows (the Poisson limit).
    """
    y, m = _clean(y_count, mu)
    if len(y) == 0 or not np.any(y > 0):
        return SIZE_MAX
    if method == "moments":
        inv = np.sum((y - m) ** 2 - m) / np.sum(m**2)
        return float(np.clip(1.0 / inv, SIZE_MIN, SIZE_MAX)) if inv > 0 else SIZE_MAX
    if method != "ml":
        raise ValueError(f"method must be 'ml' or 'moments', not {method!r}")

    # scipy.stats.nbinom.logpmf's own formula (scipy 1.17 nbinom_gen._logpmf), term for term,
    # without the distribution machinery around it: the same sums to the bit, in a third of
    # the time (that machinery was half of a baseline's backtest). y are whole counts >= 0
    # (_clean), so its support and argument checks have nothing to catch.
    # A row's term depends only on its (count, mean) pair, and a baseline's pairs repeat (most
    # counts are 0, its means are a few rates or last month's count): each distinct pair's term
    # is computed once and laid out row by row, so the sum adds the same numbers in the same
    # order, in a fraction of the time (the likelihood was half of a baseline's fit).
    y, m, rows = _distinct_pairs(y, m)
    log_y_fact = special.gammaln(y + 1)

    def nll(log_r: float) -> float:
        r = np.exp(log_r)
        p = r / (r + m)
        logpmf = (
            special.gammaln(r + y) - log_y_fact - special.gammaln(r) + r * np.log(p) + special.xlog1py(y, -p)
        )
        return -float(np.sum(logpmf if rows is None else logpmf[rows]))

    res = optimize.minimize_scalar(nll, bounds=(np.log(SIZE_MIN), np.log(SIZE_MAX)), method="bounded")
    return float(np.clip(np.exp(res.x), SIZE_MIN, SIZE_MAX))


def _distinct_pairs(y: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The distinct (y, m) pairs and, per row, its pair's position; the rows themselves (and
    None) when fewer than half of them repeat (a fitted model's means rarely do)."""
    pairs, rows = np.unique(np.column_stack([y, m]).view(np.complex128).ravel(), return_inverse=True)
    if len(pairs) > len(y) // 2:
        return y, m, None
    return pairs.real.copy(), pairs.imag.copy(), rows


def nb_quantiles(mu, size: float, q: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Quantiles ``q`` of NB(mean ``mu``, size) for each ``mu``: shape ``(len(mu), len(q))``.

    NaN means give NaN rows; means <= 0 give 0 (a degenerate count).
    """
    m = np.asarray(mu, dtype=float).ravel()[:, None]
    qq = np.asarray(q, dtype=float)[None, :]
    out = np.full((m.shape[0], qq.shape[1]), np.nan)
    ok = np.isfinite(m[:, 0])
    mm = np.clip(m[ok], _EPS, None)
    if size >= SIZE_MAX or not np.isfinite(size):
        out[ok] = stats.poisson.ppf(qq, mm)
    else:
        out[ok] = stats.nbinom.ppf(qq, size, size / (size + mm))
    out[ok & (m[:, 0] <= 0)] = 0.0
    return out


def nb_prob_any(mu, size: float) -> np.ndarray:
    """P(count >= 1) under NB(mean ``mu``, size); the Poisson ``1 - exp(-mu)`` when size is huge."""
    m = np.clip(np.asarray(mu, dtype=float), 0, None)
    if size >= SIZE_MAX or not np.isfinite(size):
        return -np.expm1(-m)
    # (r / (r + mu))**r computed in logs: stable for small mu and large r.
    return -np.expm1(-size * np.log1p(m / size))


def hurdle_quantiles(p_any, mu_pos, size: float, q: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
    """Quantiles of a hurdle count: 0 with prob ``1 - p_any``, else ``1 + NB(mu_pos - 1, size)``.

    The shifted NB keeps the conditional mean exactly ``mu_pos`` (a zero-truncated NB would have
    to be solved for its parent mean), and agrees with ``p_any``: the q-quantile is 0 exactly
    when ``q <= 1 - p_any``.
    """
    p = np.clip(np.asarray(p_any, dtype=float).ravel(), 0, 1)[:, None]
    qq = np.asarray(q, dtype=float)[None, :]
    # Conditional level inside the positive part; clipped so ppf never sees 0 or 1.
    u = np.clip((qq - (1 - p)) / np.where(p > 0, p, 1), 1e-12, 1 - 1e-12)
    m = np.clip(np.asarray(mu_pos, dtype=float).ravel() - 1, _EPS, None)[:, None]
    if size >= SIZE_MAX or not np.isfinite(size):
        pos = 1 + stats.poisson.ppf(u, m)
    else:
        pos = 1 + stats.nbinom.ppf(u, size, size / (size + m))
    return np.where(qq <= 1 - p, 0.0, pos)


def logit(p) -> np.ndarray:
    """Log-odds, with p clipped away from 0 and 1 so the answer stays finite."""
    return special.logit(np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12))


def _subset(X, columns: Sequence[str] | None):
    if columns is None or len(columns) == 0:
        return X
    if not isinstance(X, pd.DataFrame):
        raise ValueError("columns are named, so X must be a pandas DataFrame")
    return X[list(columns)]


def fit_input(
    est, X, y, columns: Sequence[str] | None = None, allow_nan: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a training set the scikit-learn way and set ``n_features_in_``, ``classes_``.

    Args:
        est: the estimator being fitted (receives ``n_features_in_``, ``feature_names_in_``,
            ``feature_names_`` and ``classes_``).
        X: DataFrame (indexed by ``columns`` when given) or, with ``columns=None``, any 2-D array.
        y: the 0/1 "any attack" target, or None for models that need none.
        columns: the columns the model reads (all when None).
        allow_nan: whether NaN may pass (tree models route it; linear models cannot).

    Returns:
        The float matrix and y as floats (None when y is None).

    Raises:
        ValueError: empty, non-finite or mis-shaped input, or a y that is not 0/1.
    """
    nan = "allow-nan" if allow_nan else True
    sub = _subset(X, columns)
    x = _plain_floats(sub, allow_nan)
    if x is None:
        x = validate_data(est, sub, reset=True, dtype=np.float64, ensure_all_finite=nan)
    else:  # what validate_data(reset=True) records
        est.n_features_in_ = x.shape[1]
        est.feature_names_in_ = np.asarray(sub.columns, dtype=object)
    names = getattr(est, "feature_names_in_", None)
    est.feature_names_ = (
        [str(c) for c in names] if names is not None else [f"x{i}" for i in range(x.shape[1])]
    )
    est.classes_ = np.array([0.0, 1.0])
    if y is None:
        if getattr(est, "_requires_y", True):
            raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y is None")
        return x, None
    if _plain_zero_one(y, len(x)):
        return x, np.asarray(y, dtype=float)
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    kind = type_of_target(y)
    if kind != "binary":
        raise ValueError(f"Only binary classification is supported. The type of the target is {kind}.")
    y = np.asarray(y, dtype=float)
    check_consistent_length(x, y)
    if not np.all(np.isin(y, (0.0, 1.0))):
        # y is "any attack at t+h": other labels would silently mean something else.
        raise ValueError(f"y must be 0/1 (any attack at t+h); got labels {np.unique(y)[:5]}")
    return x, y


def _plain_zero_one(y, n: int) -> bool:
    """Whether y is a non-empty 1-D numeric array of n zeros and ones: what scikit-learn's target
    checks (``column_or_1d``, ``type_of_target``, ...) can only accept as binary. They took a
    millisecond a fit, a tenth of a baseline's; anything else still goes through them."""
    return (
        isinstance(y, np.ndarray)
        and y.ndim == 1
        and y.dtype.kind in "fiu"
        and 0 < len(y) == n
        and bool(np.all((y == 0) | (y == 1)))
    )


def predict_input(est, X, columns: Sequence[str] | None = None, allow_nan: bool = False) -> np.ndarray:
    """Validate a prediction set against what ``est`` was fitted on; the float matrix."""
    check_is_fitted(est, "classes_")
    nan = "allow-nan" if allow_nan else True
    sub = _subset(X, columns)
    names = getattr(est, "feature_names_in_", None)
    x = _plain_floats(sub, allow_nan)
    if x is not None and names is not None and list(sub.columns) == list(names):
        return x
    return validate_data(est, sub, reset=False, dtype=np.float64, ensure_all_finite=nan)


def _plain_floats(X, allow_nan: bool) -> np.ndarray | None:
    """X as a float64 matrix when scikit-learn's validation could only say yes: a non-empty
    DataFrame of numeric columns with string names, finite (NaN allowed with ``allow_nan``).
    None otherwise, and ``validate_data`` then checks it and words any error itself.

    Why: ``validate_data`` inspects a DataFrame column by column, 0.5-1 ms for the 62 feature
    columns, and a backtest validates about 4,000 times per model; it was 40 % of the tuned
    logistic's backtest time on the demo. The matrix is the one validate_data returns.
    """
    if not isinstance(X, pd.DataFrame) or X.shape[0] == 0 or X.shape[1] == 0:
        return None
    if not all(isinstance(c, str) for c in X.columns):
        return None
    numpy_numbers = (
        isinstance(t, np.dtype) and (pd.api.types.is_float_dtype(t) or pd.api.types.is_integer_dtype(t))
        for t in X.dtypes
    )
    if not all(numpy_numbers):  # extension dtypes (nullable Int64 ...) are validate_data's to convert
        return None
    x = X.to_numpy(dtype=np.float64, copy=True)
    bad = np.isinf(x).any() if allow_nan else not np.isfinite(x).all()
    return None if bad else x


def column(X, x: np.ndarray, name) -> np.ndarray:
    """One column of validated ``x``: by name when X is a DataFrame, by position (an int) otherwise."""
    if isinstance(X, pd.DataFrame):
        return x[:, X.columns.get_loc(name)]
    return x[:, int(name)]


def index_of(X) -> pd.Index:
    """The row index for per-row outputs: X's own for a DataFrame, 0..n-1 otherwise."""
    return X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(X))


@functools.cache
def _param_names(cls: type) -> tuple[str, ...]:
    return tuple(BaseEstimator._get_param_names.__func__(cls))


class ParamNames:
    """Parameter names read once per class.

    scikit-learn reads them from the ``__init__`` signature at every ``get_params`` (each
    clone, set_params and nested get_params): ~40,000 times in a run on Mali's cercles, about
    5 % of the backtest. A class's names never change.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return list(_param_names(cls))


class ContractTags(ParamNames):
    """scikit-learn tags of the contract: binary 0/1 targets; NaN only where ``_allow_nan``."""

    _allow_nan = False
    _requires_y = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = self._allow_nan
        tags.target_tags.required = self._requires_y
        return tags


class NBCountMixin(ContractTags):
    """``predict_quantiles`` from ``predict_count`` and a fitted NB size ``nb_size_``."""

    def predict_quantiles(self, X, q: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
        """Count quantiles ``q`` per row, shape ``(n, len(q))``; NaN when there is no count head."""
        return nb_quantiles(self.predict_count(X), getattr(self, "nb_size_", SIZE_MAX), q)
