"""Count GLMs (Poisson, negative binomial) from statsmodels, wrapped to the model contract.

The GLM models the count at t+h; P(any attack) follows from the same distribution as
P(count >= 1), so the probability and the count can never disagree. Features are
signed-log1p transformed and standardised (as in ``linear.py``) and the slopes carry a
ridge penalty, so 60 collinear history columns cannot send the fit to infinity.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

# the GLM and its families only: statsmodels.api loads its whole library (0.3 s more at every
# start of the CLI and of each backtest worker)
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from riskcast.models._dist import (
    SIZE_MAX,
    NBCountMixin,
    fit_input,
    fit_nb_size,
    index_of,
    nb_prob_any,
    nb_quantiles,
    predict_input,
)
from riskcast.models.linear import signed_log1p
from riskcast.models.outputs import QUANTILES

__all__ = ["CountGLM"]

# exp() of a linear predictor beyond this is a count no panel has seen; clipping keeps
# predictions finite when a test row lies far outside the training range.
_ETA_MAX = 15.0


class _RidgeGLM(GLM):
    """statsmodels' GLM without the design's rank: ``GLM.initialize`` computes it by SVD at every
    construction, only to set degrees of freedom, which a ridge fit never reads. A CountGLM
    builds three GLMs on one design per fit (Poisson, then the NB profile), and those SVDs were
    36 % of its time (83 of 228 ms, Burkina provinces, 40 columns); the coefficients are the
    same to the bit. The degrees of freedom here assume full column rank."""

    def initialize(self):
        self.df_model = self.exog.shape[1] - 1
        self.wnobs = self.exog.shape[0]
        self.df_resid = self.wnobs - self.df_model - 1
        self._last_mean = None

    # The ridge fit's optimiser asks for the log-likelihood and then its score at the same
    # parameters, and statsmodels computes the mean exp(exog @ params) afresh in each. Both read
    # it from here: the same numbers (adding the zero offset is exact), computed once; it was a
    # fifth of a count GLM's fit. Only this model's own rows, without offset or exposure, are cached.

    def _mean(self, params: np.ndarray) -> np.ndarray:
        last = self._last_mean
        if last is not None and np.array_equal(params, last[0]):
            return last[1]
        mu = self.family.link.inverse(np.dot(self.exog, params) + self._offset_exposure)
        self._last_mean = (np.array(params, dtype=float, copy=True), mu)
        return mu

    def loglike(self, params, scale=None):
        """statsmodels' ``GLM.loglike``, the mean shared with :meth:`predict`."""
        if scale is not None or self._has_offset or self._has_exposure:
            return super().loglike(params, scale)
        mu = self._mean(params)
        return self.family.loglike(
            self.endog, mu, self.var_weights, self.freq_weights, self.estimate_scale(mu)
        )

    def predict(self, params, exog=None, exposure=None, offset=None, which="mean"):
        if (
            exog is None
            and exposure is None
            and offset is None
            and which == "mean"
            and not (self._has_offset or self._has_exposure)
        ):
            return self._mean(params)
        return super().predict(params, exog=exog, exposure=exposure, offset=offset, which=which)


class CountGLM(NBCountMixin, ClassifierMixin, BaseEstimator):
    """Ridge-penalised Poisson or negative-binomial GLM with a log link.

    Args:
        columns: feature columns to read (all when None).
        family: ``"poisson"`` or ``"negbin"``. For ``"negbin"`` the NB dispersion is profiled:
            Poisson fit -> ML size from its means -> NB GLM refit with that size, ``n_profile``
            times (the slopes barely move after two rounds).
        alpha: L2 strength on the standardised slopes (statsmodels scale: mean log-likelihood
            minus ``alpha / 2 * |b|**2``); the intercept is not penalised. The default 1.0 won the
            rolling backtests on the demo and ACLED Mali panels (0.1 and 3 both lost Brier skill
            at every horizon; 0.01 collapsed at 12 months).
        n_profile: rounds of the dispersion profile (negbin only).

    When statsmodels fails (an exception or non-finite coefficients) the model warns and falls
    back to an intercept-only fit (``fallback_ = True``), so a backtest always gets finite answers;
    when the optimiser only misses its tolerance it warns and keeps the coefficients
    (``converged_ = False``).
    When ``y_count`` is None the 0/1 target ``y`` is used as the count.
    """

    #: P(attack) is P(count >= 1) of the fitted count distribution, whatever the 0/1 target is:
    #: such a model cannot forecast another target (at least 5 attacks, escalation).
    _proba_from_count = True

    def __init__(
        self,
        columns: tuple[str, ...] | None = None,
        family: str = "negbin",
        alpha: float = 1.0,
        n_profile: int = 2,
    ) -> None:
        self.columns = columns
        self.family = family
        self.alpha = alpha
        self.n_profile = n_profile

    def _design(self, x: np.ndarray, logged: np.ndarray | None = None) -> np.ndarray:
        z = ((signed_log1p(x) if logged is None else logged) - self.mean_) / self.scale_
        return np.column_stack([np.ones(len(z)), z])

    def fit(self, X: pd.DataFrame, y, y_count=None, months=None) -> "CountGLM":
        """Fit on the counts ``y_count`` (``y`` when None). ``months`` is unused (no hold-out)."""
        return self._fit_design(*self._prepared(X, y, y_count))

    def fit_grid(self, param: str, values, X: pd.DataFrame, y, y_count=None, months=None) -> list["CountGLM"]:
        """``clone(self).set_params(param=v).fit(X, y, y_count, months)`` for each ``v``; for
        ``alpha`` the input is validated and standardised once for all of them."""
        if param != "alpha":
            return [clone(self).set_params(**{param: v}).fit(X, y, y_count, months) for v in values]
        template = clone(self)  # what validation records, without touching this (unfitted) spec
        exog, count = template._prepared(X, y, y_count)
        fits = []
        for v in values:
            est = clone(self).set_params(alpha=v)
            for attr in (
                "n_features_in_",
                "feature_names_in_",
                "feature_names_",
                "classes_",
                "mean_",
                "scale_",
            ):
                if hasattr(template, attr):
                    setattr(est, attr, getattr(template, attr))
            fits.append(est._fit_design(exog, count))
        return fits

    def _prepared(self, X: pd.DataFrame, y, y_count) -> tuple[np.ndarray, np.ndarray]:
        """The validated design (intercept and standardised signed-log features) and counts."""
        if self.family not in ("poisson", "negbin"):
            raise ValueError(f"family must be 'poisson' or 'negbin', not {self.family!r}")
        x, y = fit_input(self, X, y, self.columns)
        count = y if y_count is None else np.asarray(y_count, dtype=float)
        keep = np.isfinite(count)
        x, count = x[keep], count[keep]
        t = signed_log1p(x)
        self.mean_ = t.mean(axis=0)
        sd = t.std(axis=0)
        # A constant column carries no information; scale 1 leaves it at 0 instead of NaN.
        self.scale_ = np.where(sd > 0, sd, 1.0)
        return self._design(x, logged=t), count

    def _fit_design(self, exog: np.ndarray, count: np.ndarray) -> "CountGLM":
        self.fallback_, reason = False, "non-finite coefficients"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                params, size = self._fit_statsmodels(exog, count)
            except Exception as exc:  # noqa: BLE001 - any solver failure takes the fallback
                params, size, reason = None, SIZE_MAX, f"{type(exc).__name__}: {exc}"
        # A tolerance miss still leaves usable (finite) coefficients: keep them, but say so.
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        if params is not None and not self.converged_:
            warnings.warn(
                "CountGLM: statsmodels did not fully converge; keeping its last coefficients",
                RuntimeWarning,
                stacklevel=3,  # the caller of fit
            )
        if params is None or not np.all(np.isfinite(params)):
            warnings.warn(
                f"CountGLM: statsmodels fit failed ({reason}); using an intercept-only model",
                RuntimeWarning,
                stacklevel=3,  # the caller of fit
            )
            params = np.zeros(exog.shape[1])
            params[0] = np.log(max(count.mean(), 1e-6)) if len(count) else np.log(1e-6)
            size = (
                fit_nb_size(count, np.exp(np.full(len(count), params[0])))
                if self.family == "negbin"
                else SIZE_MAX
            )
            self.fallback_ = True
        self.intercept_, self.coef_ = float(params[0]), params[1:]
        self.nb_size_ = size
        return self

    def _fit_statsmodels(self, exog: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, float]:
        pen = np.full(exog.shape[1], float(self.alpha))
        pen[0] = 0.0
        start = np.zeros(exog.shape[1])
        start[0] = np.log(max(count.mean(), 1e-6))

        def ridge(family) -> np.ndarray:
            model = _RidgeGLM(count, exog, family=family)
            res = model.fit_regularized(alpha=pen, L1_wt=0.0, start_params=start, opt_method="bfgs")
            return np.asarray(res.params, dtype=float)

        params = ridge(families.Poisson())
        size = SIZE_MAX
        if self.family == "negbin":
            for _ in range(self.n_profile):
                size = fit_nb_size(count, np.exp(np.clip(exog @ params, None, _ETA_MAX)))
                start = params
                params = ridge(families.NegativeBinomial(alpha=1.0 / size))
        return params, size

    def _eta(self, X) -> np.ndarray:
        x = predict_input(self, X, self.columns)
        return np.clip(self._design(x) @ np.r_[self.intercept_, self.coef_], None, _ETA_MAX)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        """Expected count at t+h."""
        return np.exp(self._eta(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(any) = P(count >= 1) under the fitted Poisson / NB."""
        p = nb_prob_any(self.predict_count(X), self.nb_size_)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_outputs(self, X: pd.DataFrame, q=QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(any), expected count and count quantiles from one linear predictor (``riskcast.models.outputs``)."""
        mu = self.predict_count(X)
        return nb_prob_any(mu, self.nb_size_), mu, nb_quantiles(mu, getattr(self, "nb_size_", SIZE_MAX), q)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Contributions to the log expected count (the GLM's link): coef x scaled value, plus bias.

        Rows sum to ``log(predict_count)`` (before the overflow clip).
        """
        z = self._design(predict_input(self, X, self.columns))[:, 1:]
        out = pd.DataFrame(z * self.coef_, index=index_of(X), columns=self.feature_names_)
        out["bias"] = self.intercept_
        return out
