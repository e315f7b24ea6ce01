"""Experiments: per split node, conversion per variant, lift against the holdout, and whether to trust it.

A journey's split node sends each run to one arm (A, B, … or the holdout, which receives nothing). A run
converts when it reaches the journey's goal inside the conversion window; conversion is tracked even after
a holdout run has left, so the holdout's rate is the rate without the journey. For each split this module
reports, per arm: runs, customers, conversions and rate; against the control (the holdout, else the
baseline arm): absolute and relative lift with intervals, the fixed-horizon z-test with the sample size it
needs, the always-valid mSPRT p-value and interval over daily looks; and a sample-ratio-mismatch check of
the customers per arm against the configured weights. Then the uplift of each journey (all arms pooled
against its holdout) and of the whole programme (journeys combined, each against its own holdout).

The engine randomises customers, not runs: a hash of journey, node and customer id picks the arm, so a
customer who re-enters a journey brings every run to the same arm. The customer is therefore the unit of
the sample ratio check (distinct customers per arm; a customer found in two arms of one split is an
assignment fault and is reported), and the unit of every variance: the estimand stays the conversion rate
per run, but each arm's variance is cluster-robust by customer (the delta method for a ratio of sums,
expressed as the arm's design effect — `rumbo.analytics.stats.design_effect`), in the z-test, the
intervals, the always-valid test and the uplifts. With one run per customer all of it reduces to the
textbook figures.

The always-valid test replays the archive as a daily reader would have seen it, counting at each look only
the runs whose conversion window had closed by then ("mature" runs), each with its final outcome. A run
split an hour ago is counted in no arm rather than as unconverted: conversions arrive days after the split,
so counting recent runs as failures biases every early look, and the test's running minimum and running
intersection would keep that bias to the end. The window is the journey goal's `within` when the caller
knows it (`windows_from_journeys`), else the longest time from split to conversion observed in the split.

Which arm a run is in comes from the split decisions the engine records (decision rows with policy
"split"); for archives without them (imported data) from the transitions, where a run leaves a node with a
variant it did not have when it arrived. The SQL is written once, in DuckDB's dialect, and runs on every
engine `open_engine` offers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rumbo.analytics.engines import QueryEngine
from rumbo.analytics.sequential import MIN_RUNS, SequentialResult, msprt
from rumbo.analytics.stats import (
    ProportionComparison,
    SampleRatioCheck,
    design_effect,
    normal_quantile,
    normal_two_sided_p,
    planned_sample_size,
    sample_ratio_mismatch,
    two_proportion_test,
)
from rumbo.errors import AnalyticsError

if TYPE_CHECKING:
    from rumbo.journey.model import Journey

HOLDOUT: Final = "holdout"
DAY: Final = 86400.0

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
Weights = Mapping[tuple[str, str], Mapping[str, float]]  # (journey, split node) -> variant -> weight


class NoExperiment(AnalyticsError):
    """The archive holds no split assignment matching the filters."""


@dataclass(frozen=True)
class ExperimentRuns:
    """One row per run that passed a split node: its arm, its customer, when, and whether (when) it
    converted."""

    journey: list[str]
    node: list[str]
    variant: list[str]
    split_at: FloatArray  # epoch seconds
    converted_at: FloatArray  # epoch seconds, NaN if the run never converted
    value: FloatArray
    customer: list[str] | None = None  # None: every run is a customer of its own (independent runs)

    @classmethod
    def from_table(cls, table: pa.Table) -> ExperimentRuns:
        def floats(name: str) -> FloatArray:
            return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)

        return cls(
            journey=[str(v) for v in table.column("journey").to_pylist()],
            node=[str(v) for v in table.column("node").to_pylist()],
            variant=[str(v) for v in table.column("variant").to_pylist()],
            split_at=floats("split_at"),
            converted_at=floats("converted_at"),
            value=np.nan_to_num(floats("value")),
            customer=[str(v) for v in table.column("customer").to_pylist()],
        )

    def customer_codes(self) -> npt.NDArray[np.int64]:
        """One integer per distinct customer, per run; a run of its own when customers are not known."""
        if self.customer is None:
            return np.arange(len(self.journey), dtype=np.int64)
        _, codes = np.unique(np.asarray(self.customer, dtype=object), return_inverse=True)
        return np.asarray(codes, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class Arm:
    """One variant of one split."""

    variant: str
    runs: int
    conversions: int
    value: float
    mature_runs: int  # runs whose conversion window had closed by the last record: what the mSPRT counts
    customers: int = 0  # distinct customers among the runs: the unit the split randomised
    design_effect: float = 1.0  # variance of the rate over the binomial one, runs clustered by customer

    @property
    def rate(self) -> float:
        return self.conversions / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class ArmComparison:
    """One arm against the split's control, at a fixed horizon and anytime-valid."""

    variant: str
    control: str
    fixed: ProportionComparison
    sequential: SequentialResult


@dataclass(frozen=True)
class SplitReport:
    """Everything about one split node."""

    journey: str
    node: str
    control: str
    arms: list[Arm]
    comparisons: list[ArmComparison]
    srm: SampleRatioCheck | None  # None when no weights were configured for this split
    planned_runs_per_arm: int | None  # for the relative minimum effect asked, at the control's rate
    looks: int  # daily looks the anytime-valid test used
    window: float  # seconds after its split by which a run's conversion is final (its window closed)
    window_from_goal: bool  # the window is the journey goal's `within`, not the longest delay observed
    crossed_customers: int = 0  # customers found in more than one arm: an assignment fault
    crossed_examples: tuple[str, ...] = ()  # a few of them, to look up


@dataclass(frozen=True)
class Uplift:
    """Treated runs (every arm but the holdout) against the holdout: what the journey added."""

    scope: str  # a journey id, or "programme"
    node: str | None
    treated_runs: int
    treated_conversions: int
    holdout_runs: int
    holdout_conversions: int
    uplift: float  # absolute, in conversion rate
    ci: tuple[float, float]
    relative: float | None
    incremental_conversions: float
    p_value: float


@dataclass(frozen=True)
class ExperimentResult:
    """The result of `rumbo analyze experiment`."""

    splits: list[SplitReport]
    journeys: list[Uplift]
    programme: Uplift | None
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_table(self) -> pa.Table:
        """One row per arm of every split, with its comparison against the control where it has one.

        `lift*` is the absolute difference in rate with its Wald interval, `p_value` the fixed-horizon
        z-test's; `av_*` are the always-valid (mSPRT) p-value and interval, over the runs whose conversion
        window had closed (see `notes`); `srm_p` the sample ratio check's, on customers. Every variance is
        cluster-robust by customer.
        """
        rows: list[dict[str, Any]] = []
        for split in self.splits:
            by_variant = {c.variant: c for c in split.comparisons}
            for arm in split.arms:
                c = by_variant.get(arm.variant)
                rows.append(
                    {
                        "journey": split.journey,
                        "node": split.node,
                        "variant": arm.variant,
                        "runs": arm.runs,
                        "customers": arm.customers,
                        "conv": arm.conversions,
                        "rate": arm.rate,
                        "vs": None if c is None else c.control,
                        "lift": None if c is None else c.fixed.absolute_lift,
                        "lift_low": None if c is None else c.fixed.absolute_ci[0],
                        "lift_high": None if c is None else c.fixed.absolute_ci[1],
                        "rel_lift": None if c is None else c.fixed.relative_lift,
                        "p_value": None if c is None else c.fixed.p_value,
                        "av_p": None if c is None else c.sequential.p_value,
                        "av_low": None if c is None else c.sequential.ci[0],
                        "av_high": None if c is None else c.sequential.ci[1],
                        "srm_p": None if split.srm is None else split.srm.p_value,
                    }
                )
        return pa.Table.from_pylist(rows, schema=_ARM_SCHEMA)

    def uplift_table(self) -> pa.Table:
        """The uplift of each journey, then of the whole programme, against the holdouts."""
        rows = [_uplift_row(u) for u in [*self.journeys, *([self.programme] if self.programme else [])]]
        return pa.Table.from_pylist(rows, schema=_UPLIFT_SCHEMA)

    def notes(self) -> list[str]:
        """Warnings a reader must see: sample ratio mismatches, arms short of the planned size, and which
        runs the always-valid numbers stand on."""
        out: list[str] = []
        for split in self.splits:
            where = f"{split.journey}/{split.node}"
            if split.comparisons:
                source = "the goal's `within`" if split.window_from_goal else "the longest delay observed"
                mature = ", ".join(f"{a.variant} {a.mature_runs:,}" for a in split.arms)
                out.append(
                    f"{where}: the always-valid p-value and interval count only runs whose conversion "
                    f"window ({split.window / DAY:.1f} days, {source}) had closed by the last record: "
                    f"{mature}"
                    + (
                        f" — no look carries evidence until every arm has {MIN_RUNS} of them"
                        if min(a.mature_runs for a in split.arms) < MIN_RUNS
                        else ""
                    )
                )
            if split.crossed_customers:
                examples = ", ".join(split.crossed_examples)
                out.append(
                    f"ASSIGNMENT FAULT at {where}: {split.crossed_customers:,} customers were assigned to "
                    f"more than one arm (e.g. {examples}) — the split assigns each customer one arm for "
                    "good, so records are mislabelled, customers were merged, or the split's weights "
                    "changed between journey versions; do not trust this comparison"
                )
            if split.srm is not None and split.srm.mismatch:
                out.append(
                    f"SAMPLE RATIO MISMATCH at {where}: customers per arm {split.srm.observed} against "
                    f"expected { {k: round(v, 1) for k, v in split.srm.expected.items()} } "
                    f"(p = {split.srm.p_value:.2g}) — assignment or logging is broken; do not trust this "
                    "comparison"
                )
            if split.srm is None:
                out.append(f"{where}: no split weights given, so the sample ratio was not checked")
            if split.planned_runs_per_arm is not None:
                short = [a.variant for a in split.arms if a.runs < split.planned_runs_per_arm]
                control = next(a for a in split.arms if a.variant == split.control)
                deff = (
                    f" (its design effect {control.design_effect:.2f} included: customers re-enter)"
                    if control.design_effect > 1
                    else ""
                )
                if short:
                    out.append(
                        f"{where}: the fixed-horizon test plans {split.planned_runs_per_arm:,} runs per "
                        f"arm{deff} to detect a {self.parameters.get('mde', 0):.0%} relative lift; "
                        f"{', '.join(short)} have fewer — read the always-valid p-value until then"
                    )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameters": self.parameters,
            "splits": [_split_dict(s) for s in self.splits],
            "journeys": [_uplift_row(u) for u in self.journeys],
            "programme": None if self.programme is None else _uplift_row(self.programme),
            "notes": self.notes(),
        }


_ARM_SCHEMA: Final = pa.schema(
    [
        ("journey", pa.string()),
        ("node", pa.string()),
        ("variant", pa.string()),
        ("runs", pa.int64()),
        ("customers", pa.int64()),
        ("conv", pa.int64()),
        ("rate", pa.float64()),
        ("vs", pa.string()),
        ("lift", pa.float64()),
        ("lift_low", pa.float64()),
        ("lift_high", pa.float64()),
        ("rel_lift", pa.float64()),
        ("p_value", pa.float64()),
        ("av_p", pa.float64()),
        ("av_low", pa.float64()),
        ("av_high", pa.float64()),
        ("srm_p", pa.float64()),
    ]
)
_UPLIFT_SCHEMA: Final = pa.schema(
    [
        ("scope", pa.string()),
        ("node", pa.string()),
        ("treated_runs", pa.int64()),
        ("treated_conversions", pa.int64()),
        ("holdout_runs", pa.int64()),
        ("holdout_conversions", pa.int64()),
        ("uplift", pa.float64()),
        ("uplift_low", pa.float64()),
        ("uplift_high", pa.float64()),
        ("relative", pa.float64()),
        ("incremental_conversions", pa.float64()),
        ("p_value", pa.float64()),
    ]
)


def _uplift_row(u: Uplift) -> dict[str, Any]:
    return {
        "scope": u.scope,
        "node": u.node,
        "treated_runs": u.treated_runs,
        "treated_conversions": u.treated_conversions,
        "holdout_runs": u.holdout_runs,
        "holdout_conversions": u.holdout_conversions,
        "uplift": u.uplift,
        "uplift_low": u.ci[0],
        "uplift_high": u.ci[1],
        "relative": u.relative,
        "incremental_conversions": u.incremental_conversions,
        "p_value": u.p_value,
    }


def _split_dict(s: SplitReport) -> dict[str, Any]:
    return {
        "journey": s.journey,
        "node": s.node,
        "control": s.control,
        "arms": [
            {
                "variant": a.variant,
                "runs": a.runs,
                "conversions": a.conversions,
                "rate": a.rate,
                "value": a.value,
                "mature_runs": a.mature_runs,
                "customers": a.customers,
                "design_effect": a.design_effect,
            }
            for a in s.arms
        ],
        "comparisons": [
            {
                "variant": c.variant,
                "control": c.control,
                "lift": c.fixed.absolute_lift,
                "lift_ci": list(c.fixed.absolute_ci),
                "relative_lift": c.fixed.relative_lift,
                "relative_ci": None if c.fixed.relative_ci is None else list(c.fixed.relative_ci),
                "z": c.fixed.z,
                "p_value": c.fixed.p_value,
                "always_valid_p": c.sequential.p_value,
                "always_valid_ci": list(c.sequential.ci),
                "always_valid_runs": [c.sequential.control_runs, c.sequential.treatment_runs],
                "always_valid_conversions": [
                    c.sequential.control_conversions,
                    c.sequential.treatment_conversions,
                ],
                "tau": c.sequential.tau,
            }
            for c in s.comparisons
        ],
        "srm": None
        if s.srm is None
        else {
            "observed": s.srm.observed,
            "expected": s.srm.expected,
            "chi2": s.srm.chi2,
            "p_value": s.srm.p_value,
            "mismatch": s.srm.mismatch,
        },
        "planned_runs_per_arm": s.planned_runs_per_arm,
        "looks": s.looks,
        "window_seconds": s.window,
        "window_from_goal": s.window_from_goal,
        "crossed_customers": s.crossed_customers,
        "crossed_examples": list(s.crossed_examples),
    }


# --- extraction -------------------------------------------------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _filters(journey: str | None, node: str | None, node_column: str) -> str:
    parts = []
    if journey is not None:
        parts.append(f"journey = {_literal(journey)}")
    if node is not None:
        parts.append(f"{node_column} = {_literal(node)}")
    return "".join(f" AND {p}" for p in parts)


def _conversions_cte(goal: str | None) -> str:
    where = f"WHERE goal = {_literal(goal)}" if goal is not None else ""
    return f"""goals AS (
        SELECT journey, run, min("at") AS converted_at, sum(coalesce(value, 0.0)) AS value
        FROM conversion {where}
        GROUP BY journey, run
    )"""


# Both ways of finding the arms end alike: each run of an arm with its customer, split time and conversion.
_ARMS_WITH_GOALS = """
    SELECT a.journey AS journey, a.node AS node, a.variant AS variant, a.customer AS customer,
           epoch(a.split_at) AS split_at, epoch(g.converted_at) AS converted_at,
           coalesce(g.value, 0.0) AS value
    FROM arms a LEFT JOIN goals g ON g.journey = a.journey AND g.run = a.run
    ORDER BY journey, node, variant, split_at, customer
"""


def arms_from_decisions_sql(
    journey: str | None = None, node: str | None = None, goal: str | None = None
) -> str:
    """Runs per split arm, with their customer, from the engine's split decisions, joined to their
    conversions."""
    return f"""
    WITH arms AS (
        SELECT journey, run, node, chosen AS variant, min("at") AS split_at,
               coalesce(min(customer), run) AS customer
        FROM decision
        WHERE policy = 'split' AND chosen IS NOT NULL{_filters(journey, node, "node")}
        GROUP BY journey, run, node, chosen
    ),
    {_conversions_cte(goal)}
    {_ARMS_WITH_GOALS}"""


def arms_from_transitions_sql(
    journey: str | None = None, node: str | None = None, goal: str | None = None
) -> str:
    """Runs per split arm, with their customer, read from transitions: a run left a node with a variant it
    arrived without."""
    return f"""
    WITH reached AS (
        SELECT DISTINCT journey, run, to_node AS node, coalesce(variant, '') AS arrived_as
        FROM transition
        WHERE to_node IS NOT NULL
    ),
    departed AS (
        SELECT journey, run, from_node AS node, variant, min("at") AS split_at,
               coalesce(min(customer), run) AS customer
        FROM transition
        WHERE variant IS NOT NULL AND from_node IS NOT NULL{_filters(journey, node, "from_node")}
        GROUP BY journey, run, from_node, variant
    ),
    arms AS (
        SELECT DISTINCT d.journey AS journey, d.run AS run, d.node AS node, d.variant AS variant,
               d.split_at AS split_at, d.customer AS customer
        FROM departed d
        JOIN reached r ON r.journey = d.journey AND r.run = d.run AND r.node = d.node
        WHERE r.arrived_as <> d.variant
    ),
    {_conversions_cte(goal)}
    {_ARMS_WITH_GOALS}"""


def extract_runs(
    engine: QueryEngine, journey: str | None = None, node: str | None = None, goal: str | None = None
) -> ExperimentRuns:
    """Every run that passed a split matching the filters, with its arm, customer and conversion."""
    table = engine.query(arms_from_decisions_sql(journey, node, goal))
    if table.num_rows == 0:
        table = engine.query(arms_from_transitions_sql(journey, node, goal))
    if table.num_rows == 0:
        scope = " and ".join(
            f"{k} {v!r}" for k, v in (("journey", journey), ("split node", node)) if v is not None
        )
        raise NoExperiment(
            "no run passed a split node" + (f" for {scope}" if scope else "") + " in this archive — "
            "check --journey/--node, or that the archive holds the journey's decisions or transitions"
        )
    return ExperimentRuns.from_table(table)


# --- analysis ---------------------------------------------------------------------------------------------


def analyse_runs(
    runs: ExperimentRuns,
    *,
    weights: Weights | None = None,
    control: str | None = None,
    alpha: float = 0.05,
    mde: float = 0.1,
    power: float = 0.8,
    tau: float | None = None,
    windows: Mapping[str, float] | None = None,
) -> ExperimentResult:
    """Compare the arms of every split in `runs`.

    `control` names the arm others are compared with when a split has no holdout (default: the first arm
    in alphabetical order). `mde` is the relative minimum effect the fixed-horizon sample size is planned
    for; `tau` the mSPRT mixing scale (default: `mde` times the split's pooled conversion rate, the size
    of effect the experiment is meant to find). `windows` gives, per journey, the seconds after which a
    run's conversion is final — its goal's `within` (see `windows_from_journeys`); for a journey without
    one, the longest time from split to conversion observed in the split stands in.

    Runs of one customer are one cluster: the sample ratio check counts customers, and every variance is
    cluster-robust by customer (`runs.customer`; without it each run is its own customer).
    """
    if not 0 < alpha < 1:
        raise AnalyticsError(f"alpha {alpha!r} must be between 0 and 1, e.g. 0.05")
    for name, seconds in (windows or {}).items():
        if not seconds >= 0 or not math.isfinite(seconds):
            raise AnalyticsError(
                f"conversion window {seconds!r} for journey {name!r} must be a non-negative number of "
                "seconds — the goal's `within`, e.g. 14 days = 1209600"
            )
    keys = sorted(set(zip(runs.journey, runs.node, strict=True)))
    journey_arr = np.asarray(runs.journey, dtype=object)
    node_arr = np.asarray(runs.node, dtype=object)
    variant_arr = np.asarray(runs.variant, dtype=object)
    customers = runs.customer_codes()
    customer_names = (
        np.asarray(runs.customer, dtype=object) if runs.customer is not None else np.arange(customers.size)
    )
    converted = ~np.isnan(runs.converted_at)
    # A conversion recorded before the split (the goal reached while waiting for it) still counts.
    delay = np.where(converted, np.fmax(runs.converted_at - runs.split_at, 0.0), np.nan)

    splits: list[SplitReport] = []
    uplifts: list[Uplift] = []
    # Per journey, the holdout split with the most runs: (runs, treated mask, holdout mask).
    programme_strata: dict[str, tuple[int, BoolArray, BoolArray]] = {}
    for journey, node in keys:
        in_split = (journey_arr == journey) & (node_arr == node)
        variants = sorted(set(variant_arr[in_split].tolist()))
        last = float(np.max(np.where(in_split & converted, runs.converted_at, runs.split_at)[in_split]))
        # The last look is the last record, not the end of its day: nothing after it has been seen.
        looks = np.minimum(_daily_looks(float(runs.split_at[in_split].min()), last), last)
        goal_window = None if windows is None else windows.get(journey)
        if goal_window is not None:
            window = float(goal_window)
        else:
            split_delays = delay[in_split & converted]
            window = float(split_delays.max()) if split_delays.size else 0.0
        # A run is mature once its window has closed; its outcome is then final: converted within it.
        mature_at = runs.split_at + window
        success = converted & (delay <= window)
        arms = []
        for v in variants:
            m = in_split & (variant_arr == v)
            sums = _customer_sums(customers, converted, m)
            arms.append(
                Arm(
                    v,
                    int(m.sum()),
                    int((m & converted).sum()),
                    float(runs.value[m & converted].sum()),
                    int((m & (mature_at <= last)).sum()),
                    int(np.unique(customers[m]).size),
                    float(design_effect(*sums)),
                )
            )
        ctrl = _control_of(variants, control, journey, node)
        control_arm = next(a for a in arms if a.variant == ctrl)
        pooled = sum(a.conversions for a in arms) / max(1, sum(a.runs for a in arms))
        scale = tau if tau is not None else (mde * pooled if pooled > 0 else 0.01)

        control_mask = in_split & (variant_arr == ctrl)
        xc, nc, sc = _cumulative(mature_at, success, control_mask, looks, customers)
        control_sums = _customer_sums(customers, converted, control_mask)[2:]
        comparisons = []
        for arm in arms:
            if arm.variant == ctrl:
                continue
            m = in_split & (variant_arr == arm.variant)
            xt, nt, st = _cumulative(mature_at, success, m, looks, customers)
            fixed = two_proportion_test(
                control_arm.conversions,
                control_arm.runs,
                arm.conversions,
                arm.runs,
                alpha,
                control_sums=control_sums,
                treatment_sums=_customer_sums(customers, converted, m)[2:],
            )
            sequential = msprt(xc, nc, xt, nt, tau=scale, alpha=alpha, control_sums=sc, treatment_sums=st)
            comparisons.append(ArmComparison(arm.variant, ctrl, fixed, sequential))

        crossed = _crossed_customers(customers[in_split], variant_arr[in_split])
        configured = None if weights is None else weights.get((journey, node))
        srm = (
            None
            if configured is None
            else sample_ratio_mismatch({a.variant: a.customers for a in arms}, configured)
        )
        planned: int | None = None
        if 0 < control_arm.rate < 1 and 0 < control_arm.rate * (1 + mde) < 1:
            # Runs of re-entering customers carry less information each: the plan grows by the design effect.
            planned = math.ceil(
                planned_sample_size(control_arm.rate, mde, alpha, power) * control_arm.design_effect
            )
        splits.append(
            SplitReport(
                journey,
                node,
                ctrl,
                arms,
                comparisons,
                srm,
                planned,
                int(looks.size),
                window,
                goal_window is not None,
                int(crossed.size),
                tuple(str(customer_names[in_split][customers[in_split] == c][0]) for c in crossed[:5]),
            )
        )
        if HOLDOUT in variants and len(variants) > 1:
            treated_mask = in_split & (variant_arr != HOLDOUT)
            holdout_mask = in_split & (variant_arr == HOLDOUT)
            uplifts.append(
                _uplift(journey, node, [(treated_mask, holdout_mask)], converted, customers, alpha)
            )
            size = int(in_split.sum())
            # A journey with several holdout splits counts once in the programme, through its largest.
            if journey not in programme_strata or size > programme_strata[journey][0]:
                programme_strata[journey] = (size, treated_mask, holdout_mask)

    programme = (
        _uplift(
            "programme", None, [(t, h) for _, t, h in programme_strata.values()], converted, customers, alpha
        )
        if programme_strata
        else None
    )
    parameters = {"alpha": alpha, "mde": mde, "power": power, "tau": tau, "control": control}
    return ExperimentResult(splits, uplifts, programme, parameters)


def _customer_sums(
    customers: IntArray, outcome: BoolArray, mask: BoolArray
) -> tuple[float, float, float, float, float]:
    """One arm's x = Σ x_i, n = Σ n_i, Σ n_i², Σ x_i n_i, Σ x_i² over its customers i (n_i runs in the arm,
    x_i of them converted): what `design_effect` needs."""
    _, inverse = np.unique(customers[mask], return_inverse=True)
    n_i = np.bincount(inverse).astype(np.float64)
    x_i = np.bincount(inverse, weights=outcome[mask].astype(np.float64))
    return (
        float(x_i.sum()),
        float(n_i.sum()),
        float((n_i * n_i).sum()),
        float((x_i * n_i).sum()),
        float((x_i * x_i).sum()),
    )


def _cumulative(
    mature_at: FloatArray, success: BoolArray, mask: BoolArray, looks: FloatArray, customers: IntArray
) -> tuple[FloatArray, FloatArray, tuple[FloatArray, FloatArray, FloatArray]]:
    """Conversions, runs and customer sums of one arm's mature runs, as a reader at each look could count
    them.

    The design effect needs Σ n_i², Σ x_i n_i and Σ x_i² over customers at every look. Taking the runs in
    the order they mature, a run of a customer who already had n mature runs (x converted) adds 2n + 1 to
    Σ n_i², x + s(n + 1) to Σ x_i n_i and s(2x + 1) to Σ x_i², s = 1 if it converted: running sums of
    those increments give every look's sums in one pass.
    """
    index = np.flatnonzero(mask)
    order = index[np.argsort(mature_at[index], kind="stable")]
    when = mature_at[order]
    s = success[order].astype(np.float64)
    who = customers[order]
    # Earlier mature runs (and conversions) of the same customer, for each run in maturity order.
    by_customer = np.argsort(who, kind="stable")
    grouped = who[by_customer]
    positions = np.arange(grouped.size)
    first_of_customer = np.ones(grouped.size, dtype=bool)
    first_of_customer[1:] = grouped[1:] != grouped[:-1]
    starts = np.maximum.accumulate(np.where(first_of_customer, positions, 0))
    s_grouped = s[by_customer]
    running = np.cumsum(s_grouped)
    n_before = np.empty(grouped.size)
    x_before = np.empty(grouped.size)
    n_before[by_customer] = positions - starts
    x_before[by_customer] = running - s_grouped - (running[starts] - s_grouped[starts])

    def at_looks(increments: FloatArray) -> FloatArray:
        totals = np.concatenate([[0.0], np.cumsum(increments)])
        return np.asarray(totals[np.searchsorted(when, looks, side="right")], dtype=np.float64)

    n_at = np.searchsorted(when, looks, side="right").astype(np.float64)
    sums = (
        at_looks(2 * n_before + 1),
        at_looks(x_before + s * (n_before + 1)),
        at_looks(s * (2 * x_before + 1)),
    )
    return at_looks(s), n_at, sums


def _crossed_customers(customers: IntArray, variants: npt.NDArray[np.object_]) -> IntArray:
    """The customers (codes) found in more than one arm of a split."""
    pairs = {(int(c), str(v)) for c, v in zip(customers.tolist(), variants.tolist(), strict=True)}
    arms_of = np.bincount(np.asarray([c for c, _ in pairs], dtype=np.int64)) if pairs else np.zeros(0)
    return np.asarray(np.flatnonzero(arms_of > 1), dtype=np.int64)


def _control_of(variants: Sequence[str], control: str | None, journey: str, node: str) -> str:
    if HOLDOUT in variants:
        return HOLDOUT
    if control is not None:
        if control not in variants:
            raise AnalyticsError(
                f"{journey}/{node} has no arm {control!r} to compare with (arms: {', '.join(variants)}) — "
                "pass one of them as the control"
            )
        return control
    return variants[0]


def _daily_looks(first: float, last: float) -> FloatArray:
    """The end of every UTC day from the first split to the last record: the looks of a daily reader."""
    start_day = math.floor(first / DAY)
    end_day = math.floor(last / DAY)
    return (np.arange(start_day, end_day + 1, dtype=np.float64) + 1) * DAY - 1e-6


def _uplift(
    scope: str,
    node: str | None,
    strata: Sequence[tuple[BoolArray, BoolArray]],
    outcome: BoolArray,
    customers: IntArray,
    alpha: float,
) -> Uplift:
    """Uplift of treated runs over the holdout, combined over strata (journeys) by their treated runs.

    Each stratum is (treated runs, holdout runs) as masks over the runs. Weighting each journey's
    difference by its treated runs estimates the effect on the customers who were treated; simply pooling
    the runs would be biased whenever journeys hold out different shares.

    The variance is cluster-robust by customer: each run contributes w (s - p) / n to the estimate (w its
    journey's weight, p and n its arm's rate and runs, negated for the holdout), a customer the sum of
    their runs' contributions, and the variance is the sum of the customers' squared contributions — which
    also counts a customer treated in one journey and held out in another once, with both. It is never
    taken below the variance of independent runs.
    """
    counts = [
        (int(t.sum()), int((t & outcome).sum()), int(h.sum()), int((h & outcome).sum()), t, h)
        for t, h in strata
    ]
    live = [c for c in counts if c[0] > 0 and c[2] > 0]
    treated_runs = sum(c[0] for c in live)
    treated_conv = sum(c[1] for c in live)
    holdout_runs = sum(c[2] for c in live)
    holdout_conv = sum(c[3] for c in live)
    incremental = 0.0
    counterfactual = 0.0
    independent = 0.0
    contribution = np.zeros(outcome.size)
    y = outcome.astype(np.float64)
    for nt, xt, nc, xc, t, h in live:
        pt, pc = xt / nt, xc / nc
        incremental += nt * (pt - pc)
        counterfactual += nt * pc
        w = nt / treated_runs
        independent += w * w * (pt * (1 - pt) / nt + pc * (1 - pc) / nc)
        contribution[t] += w * (y[t] - pt) / nt
        contribution[h] -= w * (y[h] - pc) / nc
    per_customer = np.bincount(customers, weights=contribution) if customers.size else np.zeros(0)
    variance = max(independent, float(np.sum(per_customer * per_customer)))
    uplift = incremental / treated_runs if treated_runs else 0.0
    se = math.sqrt(variance)
    z_crit = normal_quantile(1 - alpha / 2)
    return Uplift(
        scope=scope,
        node=node,
        treated_runs=treated_runs,
        treated_conversions=treated_conv,
        holdout_runs=holdout_runs,
        holdout_conversions=holdout_conv,
        uplift=uplift,
        ci=(uplift - z_crit * se, uplift + z_crit * se),
        relative=incremental / counterfactual if counterfactual > 0 else None,
        incremental_conversions=incremental,
        p_value=normal_two_sided_p(uplift / se) if se > 0 else (1.0 if uplift == 0 else 0.0),
    )


def analyse_experiments(
    engine: QueryEngine,
    *,
    journey: str | None = None,
    node: str | None = None,
    goal: str | None = None,
    weights: Weights | None = None,
    control: str | None = None,
    alpha: float = 0.05,
    mde: float = 0.1,
    power: float = 0.8,
    tau: float | None = None,
    windows: Mapping[str, float] | None = None,
) -> ExperimentResult:
    """`rumbo analyze experiment` in code: read the runs from the archive through `engine` and compare."""
    runs = extract_runs(engine, journey, node, goal)
    result = analyse_runs(
        runs,
        weights=weights,
        control=control,
        alpha=alpha,
        mde=mde,
        power=power,
        tau=tau,
        windows=windows,
    )
    result.parameters.update({"engine": engine.name, "journey": journey, "node": node, "goal": goal})
    return result


def weights_from_journeys(paths: Sequence[str]) -> dict[tuple[str, str], dict[str, float]]:
    """The configured split weights of every split node in the given journey files (see `split_weights`)."""
    from rumbo.journey.load import load_journeys

    return split_weights(load_journeys(paths))


def split_weights(journeys: Iterable[Journey]) -> dict[tuple[str, str], dict[str, float]]:
    """The configured split weights of every split node of `journeys`, by (journey, node).

    A journey says `split: {variants: {A: 50, B: 50}, holdout: 10}`: the holdout takes 10% of all runs and
    the variants share the rest 50:50, so the weights are A 45, B 45, holdout 10 (as fractions).
    """
    from rumbo.journey.model import SplitNode

    out: dict[tuple[str, str], dict[str, float]] = {}
    for journey in journeys:
        for node_id, node in journey.nodes.items():
            if not isinstance(node, SplitNode):
                continue
            shares: dict[str, float] = {}
            previous = 0.0
            for name, bound in node.variants:
                shares[name] = (1 - node.holdout) * (bound - previous)
                previous = bound
            if node.holdout:
                shares[HOLDOUT] = node.holdout
            out[(journey.id, node_id)] = shares
    return out


def windows_from_journeys(paths: Sequence[str]) -> dict[str, float]:
    """Each journey's conversion window in the given journey files (see `goal_windows`)."""
    from rumbo.journey.load import load_journeys

    return goal_windows(load_journeys(paths))


def goal_windows(journeys: Iterable[Journey]) -> dict[str, float]:
    """Each journey's conversion window in seconds, its goal's `within`, for journeys that have a goal.

    A run's conversion is final once this long has passed since it entered, so at the latest this long
    after its split: the always-valid test counts a run from then on.
    """
    return {j.id: float(j.goal.within) for j in journeys if j.goal is not None}


def parse_weights(text: str) -> dict[str, float]:
    """`A=45,B=45,holdout=10` as a mapping; the numbers need not add up to anything in particular."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(number)
        except ValueError:
            raise AnalyticsError(
                f"{part!r} in --weights {text!r} is not NAME=NUMBER — write e.g. 'A=45,B=45,holdout=10'"
            ) from None
    if not out:
        raise AnalyticsError("--weights is empty — write e.g. 'A=45,B=45,holdout=10'")
    return out
