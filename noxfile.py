"""nox sessions: tests, lint, verify, doctest and the benchmark report.

    nox -s tests        # the parity suite, in parallel (same command as README/.ci/run)
    nox -s lint         # ruff
    nox -s verify       # pooling-ref verify (randomized parity against installed Keras)
    nox -s bench        # benchmark suite -> ratio table, JSON and PNG under bench-results/
"""

import nox

nox.options.sessions = ["lint", "tests"]
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs,
                env={"CI": "true"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    session.install(".[tf]")
    session.run("pooling-ref", "verify", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    session.install(".[bench]")
    session.run("python", "benchmarks/report.py", *session.posargs)
