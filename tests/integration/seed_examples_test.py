"""Every Python example of seed 001 ("API Examples", "Common Analysis
Patterns"), copied verbatim into seed_examples/, runs unchanged against the
embedded engine loaded with demo data, as `make run` serves it (port 8001)."""
import glob
import os
import subprocess
import sys
import tempfile

from harness import Server, check

BINARY = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, with python3-requests, -pandas, -matplotlib


def main():
    with tempfile.TemporaryDirectory() as data_dir:
        demo = subprocess.run([BINARY, "demo", "--days", "30", "--data-dir", data_dir],
                              capture_output=True, text=True)
        check(demo.returncode == 0, f"demo data loaded: {demo.stderr.strip()}")
        with Server(BINARY, data_dir, port=8001):
            env = dict(os.environ, MPLBACKEND="Agg")
            for script in sorted(glob.glob(os.path.join(HERE, "seed_examples", "*.py"))):
                run = subprocess.run([PYTHON, script], capture_output=True, text=True, env=env,
                                     timeout=300)
                if run.returncode != 0:
                    print(run.stdout)
                    print(run.stderr)
                check(run.returncode == 0, f"{os.path.basename(script)} runs unchanged")
                print("   ", "\n    ".join(run.stdout.strip().splitlines()[:6]))


if __name__ == "__main__":
    main()
