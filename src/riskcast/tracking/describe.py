"""The descriptions a reviewer reads in MLflow's UI: on the registered model and on each version.

Both are Markdown (the UI renders it) in sections (``### Title``): what the model forecasts, its
input and output schema, how to install and serve it, how promotion works, and per version its
backtest window, scores, promotion decision and provenance. A later step rewrites one section
(:func:`record_promotion`: the monthly job applies its decision last) and leaves the rest.

MLflow's SQL stores keep at most 5,000 characters of a description (PostgreSQL enforces it), so
the feature list is shortened to fit; the full schema is always the model's signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from riskcast.tracking.bundle import KEY_COLUMNS
from riskcast.tracking.provenance import TAG_COMMIT, TAG_VERSION
from riskcast.tracking.registry import CHAMPION, TAG_METRIC, TAG_MODEL, TAG_WINDOW, PromotionDecision

__all__ = [
    "Forecasts",
    "schema_text",
    "model_description",
    "version_description",
    "record_promotion",
    "replace_section",
    "MAX_DESCRIPTION",
]

#: ``String(5000)`` in MLflow's registry tables.
MAX_DESCRIPTION = 5000
_SCORES = ("brier", "ece", "log_loss", "auroc", "crps")


@dataclass(frozen=True)
class Forecasts:
    """What the model forecasts, in the words the description uses."""

    unit: str  # admin1, admin2, priogrid
    countries: Sequence[str]
    target: str  # "at least one attack in the month"
    event_types: Sequence[str]
    horizons: Sequence[int]
    intensity: Mapping[str, str]  # target name -> "its description (model name)"
    feature_cols: Sequence[str]
    feature_spec_sha256: str = ""

    def text(self) -> str:
        hs = ", ".join(str(h) for h in self.horizons)
        lines = [
            f"For each {self.unit} unit of {', '.join(self.countries)}, from the data of origin month t, for "
            f"month t+h (h = {hs} months ahead): the probability of {self.target}, the expected number of "
            "attacks and its 10/50/90 % quantiles, and the features that drove the forecast. Attacks are "
            f"events of the types {'; '.join(self.event_types)}."
        ]
        if self.intensity:
            lines.append(
                "Intensity targets, each a probability for month t+h: "
                + "; ".join(f"`{t}`: {d}" for t, d in self.intensity.items())
                + "."
            )
        return "\n\n".join(lines)


def _features_line(cols: Sequence[str], budget: int) -> str:
    """The feature names, as many as fit in ``budget`` characters."""
    shown: list[str] = []
    used = 0
    for c in cols:
        used += len(c) + 4
        if used > budget:
            break
        shown.append(f"`{c}`")
    rest = len(cols) - len(shown)
    tail = f" ... and {rest} more (all in the model's signature)" if rest else ""
    return "Features, in order: " + ", ".join(shown) + tail


def schema_text(f: Forecasts, feature_budget: int = MAX_DESCRIPTION) -> str:
    """The input, output and parameter schema, as tables."""
    h = "{h}"
    n = len(f.feature_cols)
    spec = f" (feature set sha256 `{f.feature_spec_sha256[:12]}`)" if f.feature_spec_sha256 else ""
    rows_in = [
        "| column | type | required | meaning |",
        "|---|---|---|---|",
        "| `unit_id` | string | no | the unit (P-code or PRIO-GRID id); returned as sent |",
        "| `month` | string `YYYY-MM` | no | the origin month t the features describe; returned as sent |",
        f"| {n} feature columns | double | yes | riskcast's features of the unit at month t{spec}; "
        "meanings: the training run's `feature_definitions.json` |",
    ]
    rows_out = [
        "| column | type | meaning |",
        "|---|---|---|",
        f"| {', '.join(f'`{k}`' for k in KEY_COLUMNS)} | string | as sent (absent when not sent) |",
        f"| `p_h{h}` | double | P({f.target}), for month t+h |",
        f"| `expected_count_h{h}` | double | expected attacks in month t+h (NaN when the model gives no count) |",
        f"| `q10_h{h}`, `q50_h{h}`, `q90_h{h}` | double | 10/50/90 % quantiles of that count |",
        f"| `top_features_h{h}` | string | the `top_k` largest contributions, `name +0.41; other -0.22` |",
    ]
    if f.intensity:
        rows_out.append(f"| `p_<target>_h{h}` | double | P(the intensity target), for month t+h |")
    return "\n".join(
        [
            "### Input: one row per unit and origin month",
            *rows_in,
            "",
            _features_line(f.feature_cols, feature_budget),
            "",
            "### Output: one row per input row, in the same order",
            *rows_out,
            "",
            f"h = {', '.join(map(str, f.horizons))}. Parameter `top_k` (long, default 3).",
        ]
    )


def _usage(name: str) -> str:
    return "\n".join(
        [
            "### Install and serve",
            "In the model's folder, `pip install -r requirements.txt` installs the pinned packages and "
            "riskcast's own wheel (`artifacts/riskcast-*.whl`). Then, with `MLFLOW_TRACKING_URI` on this registry:",
            f'`mlflow models serve -m "models:/{name}@{CHAMPION}" --env-manager local -h 127.0.0.1 -p 5000`, '
            'and POST `{"dataframe_split": {"columns": [...], "data": [[...]]}}` to `/invocations`.',
        ]
    )


def _fit(text: str) -> str:
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 2] + " …"


#: Room kept for a later rewrite of a section (the champion's line, the decision applied).
_SLACK = 400


def _assemble(sections: Sequence[str], forecasts: Forecasts) -> str:
    """``sections`` with the schema last, its feature list given what the rest leaves of the limit."""
    rest = "\n\n".join([*sections, schema_text(forecasts, feature_budget=0)])
    budget = MAX_DESCRIPTION - len(rest) - _SLACK
    return _fit("\n\n".join([*sections, schema_text(forecasts, feature_budget=max(budget, 0))]))


def replace_section(text: str, title: str, body: str) -> str:
    """``text`` with the section ``### title`` replaced by ``body`` (appended when absent)."""
    block = f"### {title}\n{body.strip()}\n"
    pattern = re.compile(rf"^### {re.escape(title)}\n.*?(?=^### |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: block + "\n", text, count=1).rstrip() + "\n"
    return text.rstrip() + "\n\n" + block


def _champion_body(client, name: str) -> str:
    """The champion as the registry has it now: version, model spec, window and scores."""
    aliases = client.get_registered_model(name).aliases
    version = aliases.get(CHAMPION)
    if version is None:
        return "No champion yet."
    tags = client.get_model_version(name, str(version)).tags
    scores = ", ".join(f"{k} {float(tags[TAG_METRIC + k]):.4g}" for k in _SCORES if TAG_METRIC + k in tags)
    return (
        f"v{version}: model `{tags.get(TAG_MODEL, '?')}`, backtest window {tags.get(TAG_WINDOW, '?')}; "
        f"backtest scores (mean over horizons): {scores or 'none recorded'}."
    )


def model_description(client, name: str, forecasts: Forecasts, rule: str) -> str:
    """Write the registered model's description (what, schema, use, promotion rule, champion)."""
    text = _assemble(
        [
            f"## {name}: monthly armed-attack risk per region",
            forecasts.text(),
            _usage(name),
            f"### Promotion\n{rule}",
            f"### Champion\n{_champion_body(client, name)}",
        ],
        forecasts,
    )
    client.update_registered_model(name, description=text)
    return text


def version_description(
    client,
    name: str,
    version: str,
    forecasts: Forecasts,
    *,
    model: str,
    model_class: str,
    window: str,
    scores: Mapping[str, float],
    last_month: str,
    run_id: str,
    backtest_run_id: str | None,
    data_hash: str,
    promotion: str,
) -> str:
    """Write one version's description: its model, window, scores, decision, provenance and schema."""
    tags = client.get_model_version(name, version).tags
    shown = ", ".join(f"{k} {scores[k]:.4g}" for k in _SCORES if k in scores)
    provenance = [
        f"riskcast {tags.get(TAG_VERSION, '?')}",
        f"commit `{tags[TAG_COMMIT]}`" if TAG_COMMIT in tags else "commit unknown (not a git checkout)",
        f"training run `{run_id}`",
        f"backtest run `{backtest_run_id}`" if backtest_run_id else "",
        f"data hash `{data_hash[:16]}`",
    ]
    text = _assemble(
        [
            f"## v{version}: `{model}` ({model_class})",
            f"Trained on every panel row through {last_month}. {forecasts.text()}",
            f"### Backtest\nWindow (origins per horizon): {window}. "
            f"Scores, mean over horizons: {shown or 'none'}. "
            "Per model and horizon: the child runs of the backtest run.",
            f"### Promotion\n{promotion}",
            "### Provenance\n" + "; ".join(p for p in provenance if p) + ".",
        ],
        forecasts,
    )
    client.update_model_version(name, version, description=text)
    return text


def promotion_text(decision: PromotionDecision, version: str, *, action: str, applied: bool) -> str:
    """The decision in words: what happened to the alias, and why."""
    before = f"v{decision.champion_before}" if decision.champion_before else "none"
    if not decision.promoted:
        what = f"not promoted; the champion stays {before}"
    elif applied:
        what = f"{action}: the champion alias moved from {before} to v{version}"
    else:
        what = (
            f"would be {action} (from {before}); the monthly job moves the alias once its outputs are written"
        )
    return f"{what}. Reason: {decision.reason}"


def record_promotion(client, name: str, version: str, decision: PromotionDecision, *, action: str) -> None:
    """After the alias moved (or was kept): rewrite the version's Promotion and the model's Champion."""
    mv = client.get_model_version(name, str(version))
    text = promotion_text(decision, str(version), action=action, applied=True)
    client.update_model_version(
        name, str(version), description=_fit(replace_section(mv.description or "", "Promotion", text))
    )
    current = client.get_registered_model(name).description or ""
    client.update_registered_model(
        name, description=_fit(replace_section(current, "Champion", _champion_body(client, name)))
    )
