"""The analyses over the management API: `GET /api/v1/analytics/{nodes,experiment,funnel,paths,attribution,
clv,lifecycle}`, for a workspace's admin key, each answering exactly what `rumbo analyze … --format json`
prints for the same archive and options. The query parameters are the command's options, `-` written `_`.

A request reads the archive of the key's workspace alone (`<archive root>/<workspace>`, which the exporter
fills; rumbo/runtime/archiver.py), so no answer can hold another workspace's rows. Errors come in the
management API's one shape: a bad parameter is a 422 naming it (`query.alpha`) and saying what to give.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations when they are declared,
# and the `Who` dependency alias is built inside the function that declares them.

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from rumbo.analytics.attribution.analysis import MODELS as ATTRIBUTION_MODELS
from rumbo.analytics.attribution.analysis import attribute
from rumbo.analytics.attribution.markov import MAX_ORDER
from rumbo.analytics.attribution.touchpoints import BY
from rumbo.analytics.clv.analysis import MODELS as CLV_MODELS
from rumbo.analytics.clv.analysis import ClvResult, ModelName, analyze_clv
from rumbo.analytics.clv.summary import DAY, PURCHASE_EVENTS, VALUE_PROPERTIES, summarise_archive
from rumbo.analytics.engines import ENGINES, QueryEngine, QueryFailed, open_engine
from rumbo.analytics.experiments import analyse_experiments, goal_windows, parse_weights, split_weights
from rumbo.analytics.funnels import funnel as compute_funnel
from rumbo.analytics.health import node_health
from rumbo.analytics.lifecycle import LifecycleRules, lifecycle, retention
from rumbo.analytics.output import Result, json_ready
from rumbo.analytics.paths import event_flows, event_paths, journey_flows
from rumbo.durations import parse_duration
from rumbo.errors import AnalyticsError, DurationInvalid
from rumbo.manage import Caller, admin_workspace
from rumbo.manage.errors import Invalid, NotFound, ProblemAt
from rumbo.manage.models import ErrorOut
from rumbo.manage.routing import ManageRoute
from rumbo.runtime.archiver import workspace_archive
from rumbo.runtime.clv_traits import write_clv_traits
from rumbo.runtime.service import Service
from rumbo.store.catalog import Actor

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what}
    for status, what in (
        (401, "no key, or a key no workspace has"),
        (403, "a write key, where an admin key is needed"),
        (404, "this server keeps no analytics archive (start it with --archive DIR or RUMBO_ARCHIVE)"),
        (422, "a query parameter is wrong: each problem names it (`query.<name>`) and says what to give"),
        (503, "the database is busy or unreachable; retry"),
    )
}
_ANSWER = "the analysis's result: the same JSON `rumbo analyze … --format json` prints"

EngineName = Annotated[
    str, Query(description="duckdb (in process) or clickhouse (the same SQL, transpiled, on chDB)")
]
Journey = Annotated[str | None, Query(description="only this journey")]
Version = Annotated[int | None, Query(ge=1, description="only this version of the journey")]


def _problem(name: str, message: str, hint: str) -> Invalid:
    return Invalid(f"query parameter {name!r}: {message}", [ProblemAt(f"query.{name}", message, hint)])


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _problem(
            name, f"{value!r} is not one of {', '.join(choices)}", f"give one of {', '.join(choices)}"
        )
    return value


def _seconds(name: str, value: str, *, positive: bool = True) -> float:
    try:
        seconds = parse_duration(value)
    except DurationInvalid:
        raise _problem(
            name, f"{value!r} is not a duration", "write a number and a unit: 90m, 36h, 7d, 2w"
        ) from None
    if positive and seconds <= 0:
        raise _problem(name, f"{value!r} is not a positive duration", "give a duration above zero, e.g. 7d")
    return seconds


@contextmanager
def _answering() -> Iterator[None]:
    """An analysis refusing its input is the request's fault (422); an engine failing is the server's."""
    try:
        yield
    except QueryFailed:
        raise
    except AnalyticsError as exc:
        raise Invalid(
            str(exc), [ProblemAt("query", str(exc), "change the parameters as the message says")]
        ) from exc


def _answer(result: Result) -> dict[str, Any]:
    answer: dict[str, Any] = json_ready(result.to_dict())
    return answer


@dataclass
class ClvOptions:
    """The options of `rumbo analyze clv` that apply to a workspace's archive, as query parameters."""

    model: Annotated[str, Query(description=f"one of {', '.join(CLV_MODELS)}")] = "bgnbd"
    horizon: Annotated[str, Query(description="how far ahead to value customers")] = "90d"
    unit: Annotated[str, Query(description="time unit the models count in")] = "1w"
    discount_rate: Annotated[float, Query(ge=0, description="annual discount rate, e.g. 0.1")] = 0.0
    penalizer: Annotated[
        float | None,
        Query(ge=0, description="prior on the log-parameters [maximum likelihood, then 0.05 if needed]"),
    ] = None
    as_of: Annotated[
        date | None, Query(description="observation end, YYYY-MM-DD [the last purchase day]")
    ] = None
    event: Annotated[
        list[str] | None, Query(description=f"purchase events [{', '.join(PURCHASE_EVENTS)}]")
    ] = None
    value_property: Annotated[
        list[str] | None,
        Query(description=f"value properties, first present wins [{', '.join(VALUE_PROPERTIES)}]"),
    ] = None
    engine: EngineName = "duckdb"


def analytics_router(service: Service) -> APIRouter:
    """The analytics routes, under /api/v1/analytics."""
    router = APIRouter(
        prefix="/api/v1/analytics", tags=["analytics"], route_class=ManageRoute, responses=_ERRORS
    )
    Who = Annotated[Caller, Depends(admin_workspace(service.open_store))]

    def engine_for(caller: Caller, engine: str) -> QueryEngine:
        root = service.archive_root
        if root is None:
            raise NotFound(
                "this server keeps no analytics archive: start rumbo serve with --archive DIR (or set "
                "RUMBO_ARCHIVE); on SQLite it is <RUMBO_HOME>/archive unless turned off"
            )
        return open_engine(workspace_archive(root, caller.workspace), _choice("engine", engine, ENGINES))

    @router.get(
        "/nodes", summary="Journey and node health; the nodes to fix or retire", response_description=_ANSWER
    )
    def nodes(
        caller: Who,
        journey: Journey = None,
        version: Version = None,
        min_runs: Annotated[
            int, Query(ge=1, description="fewest visits on each side before a node can be flagged")
        ] = 100,
        alpha: Annotated[
            float, Query(gt=0, lt=1, description="significance level after Holm's correction")
        ] = 0.05,
        no_timing: Annotated[
            bool, Query(description="skip the median time in node (the costly part)")
        ] = False,
        engine: EngineName = "duckdb",
    ) -> dict[str, Any]:
        """Per journey version, node and variant: entered, waiting, moved on, exited by reason, suppressed by
        reason, converted, median time in node; `flags` lists every comparison, `flagged` marking the nodes
        converting significantly worse than their siblings or the journey (`rumbo analyze nodes`)."""
        with _answering():
            health = node_health(
                engine_for(caller, engine),
                journey=journey,
                version=version,
                alpha=alpha,
                min_runs=min_runs,
                timing=not no_timing,
            )
            return _answer(health)

    @router.get("/experiment", summary="A/B tests and holdouts per split node", response_description=_ANSWER)
    def experiment(
        caller: Who,
        journey: Journey = None,
        node: Annotated[str | None, Query(description="only this split node")] = None,
        goal: Annotated[str | None, Query(description="count only conversions to this goal")] = None,
        window: Annotated[str | None, Query(description="conversion window of `journey`, e.g. 14d")] = None,
        weights: Annotated[
            str | None, Query(description="split weights for the SRM check, A=45,B=45,holdout=10")
        ] = None,
        control: Annotated[
            str | None, Query(description="arm to compare with when a split has no holdout")
        ] = None,
        alpha: Annotated[float, Query(gt=0, lt=1, description="significance level")] = 0.05,
        mde: Annotated[
            float, Query(gt=0, description="relative minimum effect planned for (0.1 = +10%)")
        ] = 0.1,
        power: Annotated[float, Query(gt=0, lt=1, description="power of the planned sample size")] = 0.8,
        tau: Annotated[
            float | None, Query(gt=0, description="mSPRT mixing scale [mde × pooled rate]")
        ] = None,
        engine: EngineName = "duckdb",
    ) -> dict[str, Any]:
        """Conversion per arm of every split node against the holdout (or `control`): the fixed-horizon test,
        the always-valid mSPRT, the sample-ratio-mismatch check and the uplift of each journey and of the
        programme. Split weights and goal windows come from the journeys running in the workspace, as
        `rumbo analyze experiment --journey-file` takes them from files; `weights` and `window` override
        them for one split or journey."""
        running = list(service.engine(caller.workspace).live.values())
        configured = split_weights(running)
        windows = goal_windows(running)
        if weights is not None:
            if journey is None or node is None:
                raise _problem("weights", "applies to one split", "give journey and node with it")
            with _answering():
                configured[(journey, node)] = parse_weights(weights)
        if window is not None:
            if journey is None:
                raise _problem("window", "applies to one journey", "give journey with it")
            windows[journey] = _seconds("window", window)
        with _answering():
            result = analyse_experiments(
                engine_for(caller, engine),
                journey=journey,
                node=node,
                goal=goal,
                weights=configured or None,
                control=control,
                alpha=alpha,
                mde=mde,
                power=power,
                tau=tau,
                windows=windows,
            )
            return _answer(result)

    @router.get("/funnel", summary="An ordered funnel within a window", response_description=_ANSWER)
    def funnel(
        caller: Who,
        steps: Annotated[
            list[str], Query(min_length=2, description="the events in order; repeat: steps=a&steps=b")
        ],
        within: Annotated[str, Query(description="window from the first step, e.g. 36h, 7d")] = "7d",
        by: Annotated[
            str | None, Query(description="split by channel or properties.<key> of the first step")
        ] = None,
        engine: EngineName = "duckdb",
    ) -> dict[str, Any]:
        """Customers who did each step, then the next, within the window of their first step
        (`rumbo analyze funnel`)."""
        seconds = _seconds("within", within)
        with _answering():
            return _answer(compute_funnel(engine_for(caller, engine), steps, within=seconds, by=by))

    @router.get(
        "/paths", summary="Common paths between two events, or Sankey flows", response_description=_ANSWER
    )
    def paths(
        caller: Who,
        start: Annotated[str | None, Query(alias="from", description="the event paths start at")] = None,
        end: Annotated[str | None, Query(alias="to", description="the event paths end at")] = None,
        max_steps: Annotated[int | None, Query(ge=2, description="longest path shown [6; Sankey 4]")] = None,
        top: Annotated[int, Query(ge=1, description="how many paths")] = 20,
        sankey: Annotated[
            bool, Query(description="flows (source, target, count) instead of whole paths")
        ] = False,
        journey: Annotated[
            str | None, Query(description="with sankey: flows of this journey's transitions")
        ] = None,
        version: Version = None,
        top_events: Annotated[
            int, Query(ge=1, description="with sankey over events: events per step kept")
        ] = 8,
        engine: EngineName = "duckdb",
    ) -> dict[str, Any]:
        """The most common event paths `from` one event `to` another, or with `sankey` the flows between
        steps of a journey's transitions or of events (`rumbo analyze paths`)."""
        if not sankey and (start is None or end is None):
            missing = "from" if start is None else "to"
            raise _problem(missing, "is missing", "give from=EVENT and to=EVENT, or sankey=true")
        with _answering():
            query_engine = engine_for(caller, engine)
            if not sankey:
                assert start is not None and end is not None
                return _answer(event_paths(query_engine, start, end, max_steps=max_steps or 6, top=top))
            if journey is not None:
                return _answer(journey_flows(query_engine, journey=journey, version=version))
            return _answer(
                event_flows(query_engine, start=start, max_steps=max_steps or 4, top_events=top_events)
            )

    @router.get(
        "/attribution", summary="Multi-touch attribution of conversions", response_description=_ANSWER
    )
    def attribution(
        caller: Who,
        model: Annotated[str, Query(description=f"one of {', '.join(ATTRIBUTION_MODELS)}")] = "markov",
        order: Annotated[int, Query(ge=1, le=MAX_ORDER, description="Markov chain order")] = 1,
        by: Annotated[str, Query(description=f"what gets the credit: {', '.join(BY)}")] = "channel",
        window: Annotated[
            str, Query(description="conversion window: how far back touchpoints count")
        ] = "30d",
        half_life: Annotated[str, Query(description="half-life of the time_decay model")] = "7d",
        conversion_event: Annotated[
            str | None, Query(description="count this event as the conversion")
        ] = None,
        goal: Annotated[str | None, Query(description="only conversion records of this goal")] = None,
        keep_repeats: Annotated[bool, Query(description="keep consecutive touches of one key apart")] = False,
        engine: EngineName = "duckdb",
    ) -> dict[str, Any]:
        """Credit per channel, campaign, journey or node for the conversions, by rule (first, last, linear,
        time_decay, position) or from the data (markov, shapley) (`rumbo analyze attribution`)."""
        _choice("model", model, ATTRIBUTION_MODELS)
        _choice("by", by, BY)
        window_seconds, half_life_seconds = _seconds("window", window), _seconds("half_life", half_life)
        with _answering():
            result = attribute(
                engine_for(caller, engine),
                model,
                by=by,
                window=window_seconds,
                order=order,
                half_life=half_life_seconds,
                conversion_event=conversion_event,
                goal=goal,
                keep_repeats=keep_repeats,
            )
            return _answer(result)

    def clv_result(caller: Caller, options: ClvOptions) -> ClvResult:
        model: ModelName = (
            "paretonbd" if _choice("model", options.model, CLV_MODELS) == "paretonbd" else "bgnbd"
        )
        horizon_days = _seconds("horizon", options.horizon) / DAY
        _seconds("unit", options.unit)
        with _answering():
            summary = summarise_archive(
                engine_for(caller, options.engine),
                unit=options.unit,
                observation_end=options.as_of,
                purchase_events=options.event or PURCHASE_EVENTS,
                value_properties=options.value_property or VALUE_PROPERTIES,
            )
            return analyze_clv(
                summary,
                model=model,
                horizon_days=horizon_days,
                annual_discount_rate=options.discount_rate,
                penalizer=options.penalizer,
            )

    Clv = Annotated[ClvOptions, Depends()]

    @router.get("/clv", summary="Customer lifetime value", response_description=_ANSWER)
    def clv(caller: Who, options: Clv) -> dict[str, Any]:
        """BG/NBD (or Pareto/NBD) and Gamma-Gamma fitted to the workspace's purchases: parameters, totals
        and every customer's expected purchases, probability alive and expected value
        (`rumbo analyze clv`)."""
        return _answer(clv_result(caller, options))

    @router.post(
        "/clv/traits",
        summary="Write CLV scores to the profiles as traits",
        response_description="what was written",
    )
    def clv_traits(caller: Who, options: Clv) -> dict[str, Any]:
        """Compute CLV as `GET /clv` does and write each customer's `clv_expected_purchases`,
        `clv_probability_alive`, `clv_expected_value` and `clv_computed_at` to their profile: one identify
        event per customer in the customer's log, which the worker applies like any identify, so journeys
        can branch on `profile.traits.clv_expected_value`. Audited (kind `traits`, name `clv`)."""
        result = clv_result(caller, options)
        actor = Actor("admin", caller.key_id)
        written = write_clv_traits(
            service.open_store(), caller.workspace, result, actor=actor, at=time.time()
        )
        return written.to_dict()

    @router.get(
        "/lifecycle", summary="Lifecycle stages over time, or cohort retention", response_description=_ANSWER
    )
    def lifecycle_stages(
        caller: Who,
        period: Annotated[Literal["week", "month"], Query(description="week or month")] = "week",
        purchase_event: Annotated[
            list[str] | None, Query(description="events that count as a purchase [order_completed]")
        ] = None,
        active: Annotated[str, Query(description="a purchase this recent keeps a customer active")] = "30d",
        lapsed: Annotated[str, Query(description="no purchase for this long: lapsed")] = "90d",
        cohorts: Annotated[
            bool, Query(description="weekly first-seen cohort retention instead of stages")
        ] = False,
        engine: EngineName = "duckdb",
    ) -> dict[str, Any]:
        """Customers per stage (prospect, new, active, reactivated, at_risk, lapsed) at the end of each
        period, or with `cohorts` the weekly cohort retention (`rumbo analyze lifecycle`)."""
        rules = LifecycleRules(
            tuple(purchase_event or ("order_completed",)),
            _seconds("active", active),
            _seconds("lapsed", lapsed),
        )
        with _answering():
            query_engine = engine_for(caller, engine)
            if cohorts:
                return _answer(retention(query_engine))
            return _answer(lifecycle(query_engine, rules, period=period))

    return router
