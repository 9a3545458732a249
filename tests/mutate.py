"""`make mutate`: mutation testing of one module against its tests, with mutmut.

    make mutate MODULE=destinations/delivery/retention.py TESTS=tests/destinations/delivery

mutmut mutates every function of MODULE one change at a time (a comparison flipped, a
condition dropped, a constant moved) and runs TESTS against each mutant; a mutant that no test
fails on is a *survivor*: a change to the code that the suite would let through. The run works
on a copy of the project in var/mutate/, so the working tree is never mutated, and it prints
each survivor's diff at the end. docs/testing.md, "make mutate", says how to read them.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutate"
COPIED = ("destinations", "ingest", "infra", "project", "tables", "templates", "tests")
MUTMUT = Path(sys.executable).parent / "mutmut"


def main(module: str, tests: list[str]) -> int:
    if not (ROOT / module).is_file() or not module.endswith(".py"):
        sys.exit(f"make mutate: MODULE={module!r} is not a Python file of the project")
    lay_out_copy(module, tests)
    env = os.environ | {"DATABASE_URL": database_url(), "SECRET_KEY": "mutate-secret-key"}
    env |= {"DEBUG": "false", "DB_CONN_MAX_AGE": "0", "SECURE_SSL_REDIRECT": "false"}
    run = subprocess.run([MUTMUT, "run"], cwd=WORK, env=env, check=False)
    if run.returncode:
        sys.exit(f"make mutate: mutmut stopped with exit code {run.returncode}")
    return print_survivors(env)


def lay_out_copy(module: str, tests: list[str]) -> None:
    """A fresh copy of the project whose pyproject names the module and the tests."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "*.pyc")
    for name in COPIED:
        shutil.copytree(ROOT / name, WORK / name, ignore=ignore)
    shutil.copy(ROOT / "manage.py", WORK)
    selection = ", ".join(f'"{path}"' for path in tests)
    # The tests run one process at a time (no xdist): mutmut runs mutants side by side itself.
    config = f"""
[tool.mutmut]
source_paths = ["destinations", "ingest", "infra", "project", "tables"]
only_mutate = ["{module}"]
also_copy = ["templates", "manage.py"]
pytest_add_cli_args = ["-n", "0", "-p", "no:cacheprovider", "-W", "ignore"]
pytest_add_cli_args_test_selection = [{selection}]
"""
    (WORK / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + config)


def database_url() -> str:
    found = subprocess.run(
        [sys.executable, "tests/database_url.py"], cwd=ROOT, capture_output=True, text=True
    )
    return found.stdout.strip()


def print_survivors(env: dict[str, str]) -> int:
    listed = subprocess.run(
        [MUTMUT, "results"], cwd=WORK, env=env, capture_output=True, text=True, check=False
    )
    survivors = [
        line.split(":")[0].strip() for line in listed.stdout.splitlines() if "survived" in line
    ]
    for name in survivors:
        subprocess.run([MUTMUT, "show", name], cwd=WORK, env=env, check=False)
    print(f"make mutate: {len(survivors)} survivor(s)")
    return 0


if __name__ == "__main__":
    module_arg, *test_args = sys.argv[1:]
    sys.exit(main(module_arg, test_args or ["tests"]))
