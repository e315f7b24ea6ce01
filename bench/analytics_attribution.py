"""Markov attribution of order 1 on 1,000,000 synthetic paths over 10 channels, against ChannelAttribution.

ChannelAttribution (the reference, from PyPI) estimates removal effects by simulating random walks on the
fitted chain; rumbo solves the absorbing chain's linear system exactly. Both are timed in this run on the
same paths: rumbo from the raw 1,000,000 paths (its counting is linear in the touchpoints, so it does not
need them merged; the time with merging first is printed too), the reference with its default call
`markov_model(df, var_path, var_conv, var_null=...)` on the table of distinct paths with their conversion
and non-conversion counts, the input shape it documents; each is the best of three runs. The script prints
both times, their ratio, and the largest relative difference between the two attribution vectors and
between the two removal-effect vectors — and, to show which side the difference comes from, the
difference to a reference run with 100 times more simulated walks.

The reference and the pandas it needs are installed only into bench/.venv-attribution, made here on first
use, never into rumbo's own environment.

    .venv/bin/python bench/analytics_attribution.py [--paths 1000000] [--channels 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np

from rumbo.analytics.attribution.markov import fit_chain, markov_attribution, removal_effects
from rumbo.analytics.attribution.paths import PathSet

HERE = Path(__file__).resolve().parent
REFERENCE_VENV = HERE / ".venv-attribution"
OUT = HERE / "out"
# ChannelAttribution imports matplotlib at load time, so it is installed alongside.
REFERENCE_PACKAGES = ["ChannelAttribution==2.2.5", "pandas", "matplotlib"]

REFERENCE_RUNNER = r"""
import json, sys, time
import pandas as pd
import ChannelAttribution as ca

table = pd.read_csv(sys.argv[1])
seconds = []
for _ in range(3):
    start = time.perf_counter()
    result = ca.markov_model(table, "path", "total_conversions", var_null="total_null")
    seconds.append(time.perf_counter() - start)


def effects(**options):
    more = ca.markov_model(
        table, "path", "total_conversions", var_null="total_null", out_more=True, verbose=False,
        flg_pro=False, **options,
    )
    frame = more["removal_effects"]
    return dict(zip(frame["channel_name"].astype(str), frame["removal_effect"].astype(float)))


# Its default call once more with the removal effects out, and a long run (100x the default number of
# simulated walks, a 1% convergence bar instead of 5%, no practical cap on a walk's length) to see where
# its estimate converges.
precise_start = time.perf_counter()
precise = effects(nsim_start=1e7, conv_par=0.01, max_step=1000)
precise_seconds = time.perf_counter() - precise_start
print("RESULT " + json.dumps({
    "seconds": min(seconds),
    "conversions": dict(zip(result["channel_name"].astype(str), result["total_conversions"].astype(float))),
    "removal_effects": effects(),
    "precise_removal_effects": precise,
    "precise_seconds": precise_seconds,
}))
"""


def synthetic_paths(count: int, channels: int, seed: int) -> PathSet:
    """`count` paths walked on a random first-order chain over `channels` channels plus conversion and null.

    Each step leaves for conversion or null with a probability that depends on the channel, so channels
    differ in how much they lead to conversion; walks are cut at 20 touches (then they count as null).
    """
    rng = np.random.default_rng(seed)
    exit_conv = rng.uniform(0.01, 0.08, channels)
    exit_null = rng.uniform(0.15, 0.35, channels)
    moves = rng.dirichlet(np.ones(channels), size=channels) * (1 - exit_conv - exit_null)[:, None]
    table = np.column_stack([moves, exit_conv, exit_null])
    cumulative = np.cumsum(table, axis=1)
    start = rng.dirichlet(np.ones(channels) * 2)

    current = rng.choice(channels, size=count, p=start)
    alive = np.ones(count, dtype=bool)
    converted = np.zeros(count, dtype=bool)
    steps: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for _ in range(20):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        steps.append(current[idx])
        owners.append(idx)
        u = rng.random(idx.size)
        nxt = (u[:, None] > cumulative[current[idx]]).sum(axis=1)
        conv = nxt == channels
        null = nxt >= channels
        converted[idx[conv]] = True
        alive[idx[null]] = False
        current[idx[~null]] = nxt[~null]
    owner = np.concatenate(owners)
    codes = np.concatenate(steps)
    order = np.argsort(owner, kind="stable")  # each path's touches together, oldest first
    lengths = np.bincount(owner, minlength=count)
    conversions = converted.astype(np.float64)
    return PathSet(
        keys=tuple(f"c{i:02d}" for i in range(channels)),
        codes=codes[order].astype(np.int64),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        conversions=conversions,
        nulls=1.0 - conversions,
        values=np.zeros(count),
    )


def write_reference_input(paths: PathSet, target: Path) -> int:
    """The distinct paths with their counts, as ChannelAttribution reads them ("c01 > c03", conv, null)."""
    merged = paths.collapse()
    lines = ["path,total_conversions,total_null"]
    for i in range(merged.size):
        lines.append(f"{' > '.join(merged.path(i))},{merged.conversions[i]:g},{merged.nulls[i]:g}")
    target.write_text("\n".join(lines) + "\n")
    return merged.size


def reference_python() -> Path:
    """The Python of bench/.venv-attribution, created and filled on first use."""
    python = REFERENCE_VENV / "bin" / "python"
    marker = REFERENCE_VENV / ".installed"
    if not marker.exists():
        print(f"installing the reference into {REFERENCE_VENV} …", flush=True)
        venv.create(REFERENCE_VENV, with_pip=True, clear=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES], check=True)
        marker.write_text(" ".join(REFERENCE_PACKAGES) + "\n")
    return python


def run_reference(python: Path, table: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [str(python), "-c", REFERENCE_RUNNER, str(table)], check=True, capture_output=True, text=True, env=env
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    paths = synthetic_paths(args.paths, args.channels, args.seed)
    touches = paths.codes.size
    conversions = paths.conversions.sum()
    print(
        f"{paths.size:,} paths, {touches:,} touchpoints, {conversions:,.0f} conversions, "
        f"{args.channels} channels"
    )

    OUT.mkdir(exist_ok=True)
    table = OUT / "attribution_paths.csv"
    distinct = write_reference_input(paths, table)
    print(f"{distinct:,} distinct paths")

    markov_attribution(paths.collapse(), order=1)  # warm numpy/scipy imports and caches
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        credit = markov_attribution(paths, order=1)
        best = min(best, time.perf_counter() - start)
    _, effects = removal_effects(fit_chain(paths.collapse(), 1), len(paths.keys))
    start = time.perf_counter()
    markov_attribution(paths.collapse(), order=1)
    merged_first = time.perf_counter() - start
    higher = {}
    for order in (2, 3):  # no reference figure: the default call of the reference is order 1
        start = time.perf_counter()
        markov_attribution(paths, order=order)
        higher[order] = time.perf_counter() - start

    python = reference_python()
    reference = run_reference(python, table)
    ref_seconds = float(reference["seconds"])  # type: ignore[arg-type]
    ref_conv: dict[str, float] = reference["conversions"]  # type: ignore[assignment]
    ref_effects: dict[str, float] = reference["removal_effects"]  # type: ignore[assignment]
    precise: dict[str, float] = reference["precise_removal_effects"]  # type: ignore[assignment]

    ours_conv = dict(zip(paths.keys, credit.conversions.tolist(), strict=True))
    ours_effects = dict(zip(paths.keys, effects.tolist(), strict=True))
    conv_diff = max(abs(ours_conv[k] - ref_conv[k]) / abs(ref_conv[k]) for k in paths.keys)
    effect_diff = max(abs(ours_effects[k] - ref_effects[k]) / abs(ref_effects[k]) for k in paths.keys)
    precise_diff = max(abs(ours_effects[k] - precise[k]) / abs(precise[k]) for k in paths.keys)

    print(f"{'channel':8} {'rumbo conv':>12} {'ref conv':>12} {'rumbo RE':>9} {'ref RE':>9}")
    for k in paths.keys:
        print(f"{k:8} {ours_conv[k]:12.1f} {ref_conv[k]:12.1f} {ours_effects[k]:9.4f} {ref_effects[k]:9.4f}")
    print(f"rumbo markov order 1 (exact, from the raw 1M paths): {best:.3f} s (best of 3)")
    print(f"ChannelAttribution markov_model defaults (simulation):  {ref_seconds:.3f} s (best of 3)")
    print(f"ratio reference / rumbo: {ref_seconds / best:.1f}x")
    print(f"rumbo markov order 1, merging identical paths first (one run): {merged_first:.3f} s")
    for order, seconds in higher.items():
        print(f"rumbo markov order {order} (exact, one run): {seconds:.3f} s")
    print(f"largest relative difference, attributed conversions: {conv_diff:.2%}")
    print(f"largest relative difference, removal effects:        {effect_diff:.2%}")
    print(
        f"largest relative difference, removal effects, reference with 1e7 walks and no step cap "
        f"({float(reference['precise_seconds']):.1f} s): {precise_diff:.2%}"  # type: ignore[arg-type]
    )
    if best >= ref_seconds:
        sys.exit("rumbo was not faster than the reference")


if __name__ == "__main__":
    main()
