"""Runs every analytics benchmark (bench/analytics_*.py), one after another, each in its own process.

    .venv/bin/python bench/analytics.py [nodes attribution clv ...]

Each benchmark prints its own figures and its ratio against a reference measured in the same run; this
runner only chooses which to run and reports the ones that failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("analytics_*.py"))
    if names:
        wanted = {f"analytics_{name.removeprefix('analytics_').removesuffix('.py')}.py" for name in names}
        unknown = wanted - {s.name for s in scripts}
        if unknown:
            print(
                f"no such benchmark: {', '.join(sorted(unknown))}; have {', '.join(s.stem for s in scripts)}"
            )
            return 2
        scripts = [s for s in scripts if s.name in wanted]
    failed = []
    for script in scripts:
        print(f"== {script.relative_to(HERE.parent)}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
