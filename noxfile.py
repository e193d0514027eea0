"""nox sessions: tests, lint, verify, doctest and the benchmark report.

    nox -s tests        # the parity suite, in parallel (same command as README/.ci/run)
    nox -s explore      # random Hypothesis exploration, 10x the examples (contributors)
    nox -s lint         # ruff (with the C901 complexity limit) and lint-imports (layers)
    nox -s verify       # pooling-ref verify (randomized parity against installed Keras)
    nox -s mutation     # mutation testing (cosmic-ray) of the core and the oracle: a seeded
                        # sample, `nox -s mutation -- --sample 300 --seed 1` (see below)
    nox -s bench        # benchmark suite -> ratio table, JSON and PNG under bench-results/
    nox -s bench_dialects  # pooling_ref vs torch and onnxruntime, one interleaved run
    nox -s keras_jax    # parity subset + verify with KERAS_BACKEND=jax (own venv, CPU jax)
    nox -s torch        # pooling_ref.dialects.torch against torch (own venv)
    nox -s onnx         # pooling_ref.dialects.onnx against onnxruntime (own venv)
    nox -s jax          # pooling_ref.dialects.jax against jax.lax / flax (own venv)
    nox -s keras_torch  # the same with KERAS_BACKEND=torch (CPU torch)
    nox -s oldest       # parity subset + verify on the oldest supported TF/Keras pair
    nox -s litert       # LiteRT dialect, the .tflite / .onnx node checkers, pooling-ref model
    nox -s round_trips  # torch -> ONNX (both exporters) and Keras -> ONNX (tf2onnx) in onnxruntime

The backend sessions keep TensorFlow installed (pooling_ref.keras_ref imports it, and the
tf.nn functional forms need it) and set KERAS_BACKEND, so the Keras layers and keras.ops
under test run on jax / torch (CPU wheels; torch==2.13.0 is the CPU wheel pip finds on this
machine's disk, a plain `torch` would pull a CUDA build). They run the backend-aware part of
the parity subset (BACKEND_PARITY) and `verify`; the differences they find are registry
entries (pooling_ref/data/known_differences.json) with path "keras-jax" / "keras-torch".
Use `nox -r -s ...` to reuse the virtualenvs after the first run.
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
def explore(session: nox.Session) -> None:
    """Random exploration for contributors: the Hypothesis tests with the ``explore``
    profile (random seed, 10x the examples; each failure prints ``@reproduce_failure``).
    ``nox -s explore -- --hypothesis-seed 7`` repeats a run; extra args go to pytest."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-n", "auto",
                "-m", "not slow", *session.posargs,
                env={"CI": "true", "HYPOTHESIS_PROFILE": "explore"})


@nox.session(python=PYTHON)
def no_numba(session: nox.Session) -> None:
    """The whole suite as on a machine without Numba: ``POOLING_REF_DISABLE_NUMBA=1`` hides
    it from pooling_ref (``"auto"`` runs the NumPy methods; compiled-only tests skip)."""
    session.install(".[test]")
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs,
                env={"CI": "true", "POOLING_REF_DISABLE_NUMBA": "1"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff", "import-linter", "-e", ".")
    session.run("ruff", "check", ".")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    session.install(".[tf]")
    session.run("pooling-ref", "verify", *session.posargs)


@nox.session(python=PYTHON)
def mutation(session: nox.Session) -> None:
    """Mutation testing with cosmic-ray (tools/mutation.py; scope and test selection per
    module in mutation/scope.toml, equivalent mutants in mutation/equivalent.toml), then
    the per-module report. Arguments go to ``tools/mutation.py run``: ``--sample N --seed S``
    (a seeded random sample; without it the whole population, ~12.7k mutants, days on 2
    cores), ``--resume`` (after Ctrl-C / SIGTERM), ``--rerun survived``; one worker
    (``--workers 2`` at most). Not part of CI."""
    session.install("-e", ".[mutation]")
    session.run("python", "tools/mutation.py", "run", *session.posargs)
    session.run("python", "tools/mutation.py", "report", "--diffs")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    session.install(".[bench]")
    session.run("python", "benchmarks/report.py", *session.posargs)


@nox.session(python=PYTHON)
def bench_dialects(session: nox.Session) -> None:
    """pooling_ref against torch (NCHW and channels_last) and onnxruntime on the same
    inputs, in one run of interleaved rounds and of calls 20 ms apart
    (benchmarks/bench_peers.py: ratios, geometric means, CPU per call,
    bench-results/peers.json). Not part of .ci/run."""
    session.install(".[bench,onnx]", "torch==2.13.0")
    session.run("python", "benchmarks/bench_peers.py", *session.posargs)


#: The parity tests that work on every Keras backend (marker ``any_backend``: the Keras
#: layers and keras.ops run on the session's backend and are compared with that backend's
#: registry path), and all of them (marker ``parity``: also those about TensorFlow's own
#: kernel paths — special values, dtypes, defects and gradients per oneDNN / Eigen / XLA
#: path — which need the TensorFlow backend: tf.GradientTape, tf.function). The markers
#: are set in the test modules (pyproject.toml lists them).
BACKEND_PARITY = "any_backend"
PARITY = "parity"


@nox.session(python=PYTHON)
def accept_tf(session: nox.Session) -> None:
    """The whole TensorFlow candidate zoo (parity_tests/tf_candidates.py: Keras layers,
    keras.ops, tf.nn ops and GradientTape gradients, every family and rank) through
    ``pooling_ref.check`` with default arguments: XLA, then eager with oneDNN and with
    Eigen. Prints a table per run; fails if any candidate is rejected. ``-- float64``
    (or float16) checks that dtype for the families that take it."""
    session.install(".[test]")
    run = ["python", "-m", "parity_tests.tf_candidates"]
    session.run(*run, "xla", *session.posargs)
    for flag in ("1", "0"):
        session.run(*run, "eager", *session.posargs, env={"TF_ENABLE_ONEDNN_OPTS": flag})


#: The ops `verify` runs in the backend sessions. verify compares with the rules of
#: TensorFlow's eager path (pooling_ref/_verify.py), so it leaves out what the backends do
#: differently by design — average pooling (summation order: registry
#: keras-jax-avg-pool-order; torch's asymmetric "same" defect: keras-torch-avg-same-asymmetric;
#: both expected by the parity tests above) — and the gradient ops (tf.GradientTape, which
#: needs the TensorFlow backend). Measured with --cases 20: everything else matches on both.
BACKEND_VERIFY_OPS = ["max_pool", "global_max_pool", "global_avg_pool", "zero_pad", "conv"]


def _parity_and_verify(session: nox.Session, marker: str, env: dict,
                       ops: list[str] | None = None) -> None:
    env = {"CI": "true", **env}
    session.run("python", "-m", "pytest", "-n", "auto", "-q", "-m", marker, *session.posargs,
                env=env)
    session.run("pooling-ref", "verify", "--cases", "20", *(["--ops", *ops] if ops else []),
                env=env)


@nox.session(python=PYTHON)
def keras_jax(session: nox.Session) -> None:
    """KERAS_BACKEND=jax (CPU jax from PyPI)."""
    session.install(".[test]", "jax")
    _parity_and_verify(session, BACKEND_PARITY, {"KERAS_BACKEND": "jax"}, BACKEND_VERIFY_OPS)


@nox.session(python=PYTHON)
def keras_torch(session: nox.Session) -> None:
    """KERAS_BACKEND=torch (the CPU wheel torch==2.13.0)."""
    session.install(".[test]", "torch==2.13.0")
    _parity_and_verify(session, BACKEND_PARITY, {"KERAS_BACKEND": "torch"},
                       BACKEND_VERIFY_OPS)


@nox.session(python=PYTHON)
def torch(session: nox.Session) -> None:
    """pooling_ref.dialects.torch against torch.nn.functional (the CPU wheel torch==2.13.0)."""
    session.install(".[torch]", "torch==2.13.0")
    session.run("python", "-m", "pytest", "-n", "auto", "-q",
                "parity_tests/test_torch_dialect.py", *session.posargs, env={"CI": "true"})


@nox.session(python=PYTHON)
def onnx(session: nox.Session) -> None:
    """pooling_ref.dialects.onnx against onnxruntime (opset 22 models built with onnx)."""
    session.install(".[onnx]")
    session.run("python", "-m", "pytest", "-n", "auto", "-q",
                "parity_tests/test_onnx_dialect.py", "parity_tests/test_onnx_reference.py",
                *session.posargs, env={"CI": "true"})


@nox.session(python=PYTHON)
def jax(session: nox.Session) -> None:
    """pooling_ref.dialects.jax against jax.lax.reduce_window and flax's avg_pool (CPU jax;
    the oracle's jax tests need no jax and run in the main suite)."""
    session.install(".[jax]")
    session.run("python", "-m", "pytest", "-n", "auto", "-q",
                "parity_tests/test_jax_dialect.py", *session.posargs, env={"CI": "true"})


@nox.session(python=PYTHON)
def oldest(session: nox.Session) -> None:
    """The lower bounds of pyproject.toml: tensorflow-cpu 2.16 with Keras 3.7.

    Keras 3.7, not 3.3.3 (TF 2.16's own): measured with tensorflow-cpu 2.16.2, Keras 3.3.3
    has no ZeroPadding1D data_format, casts int32 GlobalMaxPooling to float32, and has not
    yet the channels_first bias defect the registry records (keras-cf-conv-bias-axis,
    present from Keras 3.7.0, absent in 3.6.0); the registry has no version conditions.
    """
    session.install(".[test]", "tensorflow-cpu==2.16.2", "keras==3.7.0")
    _parity_and_verify(session, PARITY, {})


#: The tests of pooling_ref.dialects.litert, pooling_ref.model_check and `pooling-ref model`
#: are the modules marked ``litert`` (their doctests run with the package's, below). Those
#: that need the LiteRT interpreter (or onnx / onnxruntime) skip without it; this session
#: installs them and sets POOLING_REF_REQUIRE_LITERT=1 / POOLING_REF_REQUIRE_ONNX=1, which
#: make a missing runtime a failure instead.
LITERT = "litert"
LITERT_DOCTESTS = ["pooling_ref/dialects", "pooling_ref/model_check"]


@nox.session(python=PYTHON)
def litert(session: nox.Session) -> None:
    """LiteRT (ai-edge-litert): float and quantized pooling per op resolver, the registry
    entries litert-*, the .tflite and .onnx per-node checkers and `pooling-ref model`. Not
    part of .ci/run."""
    session.install(".[litert,onnx]")
    env = {"CI": "true", "POOLING_REF_REQUIRE_LITERT": "1", "POOLING_REF_REQUIRE_ONNX": "1"}
    session.run("python", "-m", "pytest", "-n", "auto", "-q", "-m", LITERT, *session.posargs,
                env=env)
    session.run("python", "-m", "pytest", "-q", *LITERT_DOCTESTS, env=env)


#: The round trips to ONNX (marker ``round_trips``): torch -> ONNX with both exporters and
#: Keras -> ONNX with tf2onnx, run by onnxruntime (parity_tests/test_round_trips.py).
#: POOLING_REF_REQUIRE_ROUND_TRIPS=1 makes a missing runtime a failure instead of a skip.
ROUND_TRIPS = "round_trips"


@nox.session(python=PYTHON)
def round_trips(session: nox.Session) -> None:
    """torch.onnx.export (legacy and dynamo) and tf2onnx round trips against
    pooling_ref.dialects.torch and the Keras reference, and their registry entries
    (torch-onnx-*, tf2onnx-*, onnxruntime-*). Not part of .ci/run."""
    session.install(".[round_trips]", "torch==2.13.0")
    session.run("python", "-m", "pytest", "-n", "auto", "-q", "-m", ROUND_TRIPS,
                *session.posargs,
                env={"CI": "true", "POOLING_REF_REQUIRE_ROUND_TRIPS": "1"})
