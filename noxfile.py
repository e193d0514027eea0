"""nox sessions: tests, lint, verify, doctest and the benchmark report.

    nox -s tests        # the parity suite, in parallel (same command as README/.ci/run)
    nox -s lint         # ruff
    nox -s verify       # pooling-ref verify (randomized parity against installed Keras)
    nox -s bench        # benchmark suite -> ratio table, JSON and PNG under bench-results/
    nox -s keras_jax    # parity subset + verify with KERAS_BACKEND=jax (own venv, CPU jax)
    nox -s keras_torch  # the same with KERAS_BACKEND=torch (CPU torch)
    nox -s oldest       # parity subset + verify on the oldest supported TF/Keras pair

The backend sessions keep TensorFlow installed (the reference paths and tf.nn functional
forms need it) and switch Keras's backend, so the Keras layers under test run on jax /
torch; the differences they find belong in pooling_ref/data/known_differences.json with
path "keras-jax" / "keras-torch".
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


#: The parity tests that call Keras (see .ci/run).
PARITY = ["parity_tests/test_pooling_keras.py", "parity_tests/test_special_values.py",
          "parity_tests/test_dtypes.py", "parity_tests/test_known_defects.py",
          "parity_tests/test_zero_pad_keras.py", "parity_tests/test_conv_keras.py"]


def _parity_and_verify(session: nox.Session, env: dict) -> None:
    env = {"CI": "true", **env}
    session.run("python", "-m", "pytest", "-n", "auto", "-q", *PARITY, *session.posargs,
                env=env)
    session.run("pooling-ref", "verify", "--cases", "20", env=env)


@nox.session(python=PYTHON)
def keras_jax(session: nox.Session) -> None:
    session.install(".[test]", "jax")
    _parity_and_verify(session, {"KERAS_BACKEND": "jax"})


@nox.session(python=PYTHON)
def keras_torch(session: nox.Session) -> None:
    session.install(".[test]", "torch==2.13.0")
    _parity_and_verify(session, {"KERAS_BACKEND": "torch"})


@nox.session(python=PYTHON)
def oldest(session: nox.Session) -> None:
    """The lower bounds of pyproject.toml: tensorflow-cpu 2.16 with its Keras 3."""
    session.install(".[test]", "tensorflow-cpu==2.16.2", "keras==3.3.3")
    _parity_and_verify(session, {})
