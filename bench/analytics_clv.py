"""BG/NBD and Gamma-Gamma on CDNOW (2,357 customers), rumbo against Lifetimes.

Lifetimes (the reference, from PyPI) and rumbo fit the same two models to the same summary,
tests/analytics/data/cdnow_customers_summary_with_transactions.csv: BG/NBD on (x, t_x, T) of every
customer, Gamma-Gamma on (x, z̄) of the 946 repeat customers. Each fit is timed as the median of
`--repeats` runs after one warm-up, in this run, on this machine. The script prints both parameter sets
to three significant figures, both log-likelihoods on the data in weeks (Lifetimes reports its
likelihood on internally rescaled times, so its own formula is evaluated here at its estimates on the
unscaled data), both times and the ratio rumbo / Lifetimes. With `--paretonbd` it also times one
Pareto/NBD fit each, for information.

What each call includes: `BetaGeoFitter.fit` and `GammaGammaFitter.fit` also compute standard errors from
an autograd Hessian; rumbo's fits check the input, fold identical histories and return the
log-likelihood. Both are what a user calls to get the parameters.

The reference and the pinned setuptools and pandas it needs (it imports pkg_resources and predates
pandas 3) are installed only into bench/.venv-clv, made here on first use, never into rumbo's own
environment.

    .venv/bin/python bench/analytics_clv.py [--repeats 7] [--paretonbd]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import time
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rumbo.analytics.clv import fit_bgnbd, fit_gammagamma, fit_paretonbd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "analytics" / "data" / "cdnow_customers_summary_with_transactions.csv"
REFERENCE_VENV = HERE / ".venv-clv"
REFERENCE_PACKAGES = ["lifetimes==0.11.3", "setuptools<81", "pandas<3"]
PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
    "gammagamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}

REFERENCE_RUNNER = r"""
import json, statistics, sys, time, warnings
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter

warnings.simplefilter("ignore")
path, repeats, paretonbd = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
data = pd.read_csv(path)
x, t_x, T = data["x"].to_numpy(), data["t_x"].to_numpy(), data["T"].to_numpy()
repeat = data[data["x"] > 0]

def timed(fit):
    fit()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model = fit()
        times.append(time.perf_counter() - start)
    return model, statistics.median(times)

bg, bg_seconds = timed(lambda: BetaGeoFitter().fit(x, t_x, T))
gg, gg_seconds = timed(lambda: GammaGammaFitter().fit(repeat["x"], repeat["zbar"]))
params = bg.params_.to_dict()
log_params = np.log([params["r"], params["alpha"], params["a"], params["b"]])
weights = np.ones_like(t_x)
bg_ll = -BetaGeoFitter._negative_log_likelihood(log_params, x, t_x, T, weights, 0.0) * len(x)
gg_params = gg.params_.to_dict()
result = {
    "bgnbd": {**params, "log_likelihood": float(bg_ll), "seconds": bg_seconds},
    "gammagamma": {
        "p": gg_params["p"], "q": gg_params["q"], "gamma": gg_params["v"],
        "log_likelihood": float(-gg._negative_log_likelihood_ * len(repeat)), "seconds": gg_seconds,
    },
}
if paretonbd:
    start = time.perf_counter()
    pn = ParetoNBDFitter().fit(x, t_x, T)
    result["paretonbd"] = {**pn.params_.to_dict(), "seconds": time.perf_counter() - start}
print("RESULT " + json.dumps(result))
"""


def reference_python() -> Path:
    """The Python of bench/.venv-clv, created and filled on first use."""
    python = REFERENCE_VENV / "bin" / "python"
    marker = REFERENCE_VENV / ".installed"
    if not marker.exists():
        print(f"installing the reference into {REFERENCE_VENV} …", flush=True)
        venv.create(REFERENCE_VENV, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES], check=True)
        marker.write_text(" ".join(REFERENCE_PACKAGES) + "\n")
    return python


def run_reference(repeats: int, paretonbd: bool) -> dict[str, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [str(reference_python()), "-c", REFERENCE_RUNNER, str(DATA), str(repeats), "1" if paretonbd else "0"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, dict[str, float]] = json.loads(line.removeprefix("RESULT "))
    return result


def timed(fit: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    """The fit's result and the median of `repeats` timed runs after a warm-up."""
    fit()
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def run_rumbo(repeats: int, paretonbd: bool) -> dict[str, dict[str, float]]:
    with DATA.open() as handle:
        rows = list(csv.DictReader(handle))
    x, t_x, T, zbar = (np.array([float(row[k]) for row in rows]) for k in ("x", "t_x", "T", "zbar"))
    bg, bg_seconds = timed(lambda: fit_bgnbd(x, t_x, T), repeats)
    gg, gg_seconds = timed(lambda: fit_gammagamma(x, zbar), repeats)
    result = {
        "bgnbd": {**bg.model.params(), "log_likelihood": bg.log_likelihood, "seconds": bg_seconds},
        "gammagamma": {**gg.model.params(), "log_likelihood": gg.log_likelihood, "seconds": gg_seconds},
    }
    if paretonbd:
        start = time.perf_counter()
        pn = fit_paretonbd(x, t_x, T)
        result["paretonbd"] = {**pn.model.params(), "seconds": time.perf_counter() - start}
    return result


def significant(value: float, figures: int = 3) -> float:
    return round(value, figures - 1 - math.floor(math.log10(abs(value))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per fit (median reported)")
    parser.add_argument("--paretonbd", action="store_true", help="also time one Pareto/NBD fit each")
    args = parser.parse_args()

    reference = run_reference(args.repeats, args.paretonbd)
    ours = run_rumbo(args.repeats, args.paretonbd)

    agree = True
    print(f"CDNOW summary, {DATA.name}; median of {args.repeats} fits after a warm-up\n")
    print(f"{'model':<11} {'parameter':<15} {'published':>10} {'rumbo':>12} {'lifetimes':>12}  3 s.f.")
    for model, published in PUBLISHED.items():
        for name in (*(k for k in published if k != "log_likelihood"), "log_likelihood"):
            mine, theirs = ours[model][name], reference[model][name]
            if name == "log_likelihood":
                same = abs(mine - theirs) < 0.05
            else:
                same = significant(mine) == significant(theirs) == significant(published[name])
            agree &= same
            shown = published.get(name)
            print(
                f"{model:<11} {name:<15} {'' if shown is None else shown:>10} {mine:>12.4f} {theirs:>12.4f}"
                f"  {'same' if same else 'DIFFERENT'}"
            )
    print()
    print(f"{'fit':<24} {'rumbo (s)':>10} {'lifetimes (s)':>14} {'ratio':>7}")
    total_ours = total_theirs = 0.0
    for model in ("bgnbd", "gammagamma", *(("paretonbd",) if args.paretonbd else ())):
        mine, theirs = ours[model]["seconds"], reference[model]["seconds"]
        if model != "paretonbd":
            total_ours += mine
            total_theirs += theirs
        label = model + (" (one run)" if model == "paretonbd" else "")
        print(f"{label:<24} {mine:>10.4f} {theirs:>14.4f} {mine / theirs:>7.3f}")
    ratio = total_ours / total_theirs
    print(f"{'bgnbd + gammagamma':<24} {total_ours:>10.4f} {total_theirs:>14.4f} {ratio:>7.3f}")
    print(f"\nparameters and log-likelihoods agree: {'yes' if agree else 'NO'}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
