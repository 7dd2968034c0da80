"""Run every benchmark script in this folder, one after another (`make bench`)."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: modules the benchmarks share, not benchmarks
NOT_BENCHMARKS = {"run_all.py", "generate.py", "common.py"}
#: the PostgreSQL ones reuse the database they loaded last time (it takes long: 50 M ratings);
#: without PostgreSQL's binaries they print "skipped" and succeed
ARGS = {"reports_pg_50m.py": ["--keep"], "pull_pg_1m.py": ["--keep"]}

if __name__ == "__main__":
    failed = []
    for script in sorted(HERE.glob("*.py")):
        if script.name in NOT_BENCHMARKS or script.name.startswith("_"):
            continue
        print(f"\n== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script), *ARGS.get(script.name, [])], check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
