"""``output_length`` / ``same_pads`` — hand-derived values, Keras shape inference, real TF calls.

* hand-derived: each literal is worked out in its comment;
* output sizes: ``keras.ops.max_pool`` / ``keras.ops.conv`` on symbolic ``KerasTensor``
  inputs (Keras's own shape inference, no kernel runs — fast) over Hypothesis-drawn
  ``(n, window, stride, dilation, padding)``; where Keras refuses a "valid" window larger
  than the input, ``output_length`` must refuse too (``ValueError``);
* "same" pads (before/after split, odd cell after): a real TF call — ``tf.nn.convolution``
  with ``padding="SAME"`` must equal ``padding="VALID"`` on the input zero-padded by
  ``same_pads``. float64 integer-valued data make both exact (Eigen kernel, not the oneDNN
  float32 path whose "same" can differ by 1 ULP), and a random integer kernel makes any
  shift of the padding visible. TF rejects ``strides > 1`` with ``dilations > 1``, so those
  pads are checked against the hand formula only.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling_ref
from pooling_ref import output_length, same_pads

# ----------------------------------------------------------------------------- hand-derived

HAND_OUTPUT_LENGTH = [
    # (n, window, stride, padding, dilation, expected)   derivation
    (4, 2, 2, "valid", 1, 2),    # windows start 0, 2
    (5, 2, 2, "valid", 1, 2),    # starts 0, 2; start 4 would need cells 4..5
    (5, 2, 2, "same", 1, 3),     # ceil(5/2)
    (5, 3, 2, "same", 1, 3),     # ceil(5/2)
    (10, 2, 3, "valid", 1, 3),   # starts 0, 3, 6; 9 would need 9..10
    (10, 2, 3, "same", 1, 4),    # ceil(10/3)
    (3, 3, 1, "valid", 1, 1),    # window == input
    (3, 3, 5, "valid", 1, 1),    # window == input, stride irrelevant
    (1, 4, 1, "same", 1, 1),     # ceil(1/1)
    (9, 3, 1, "valid", 2, 5),    # dilated span 2*2+1 = 5 -> starts 0..4
    (9, 3, 2, "valid", 2, 3),    # span 5 -> starts 0, 2, 4
    (9, 3, 2, "same", 2, 5),     # ceil(9/2)
    (0, 3, 1, "valid", 1, 0),    # empty axis -> empty output (as TF, measured)
    (0, 3, 2, "same", 1, 0),
    (7, 1, 1, "SAME", 1, 7),     # padding is case-insensitive
    (7, 2, 1, "Valid", 1, 6),
]


@pytest.mark.parametrize(("n", "window", "stride", "padding", "dilation", "expected"),
                         HAND_OUTPUT_LENGTH)
def test_output_length_hand(n, window, stride, padding, dilation, expected):
    assert output_length(n, window, stride, padding, dilation) == expected
    if dilation == 1:                                   # the default is dilation 1
        assert output_length(n, window, stride, padding) == expected


HAND_SAME_PADS = [
    # (n, window, stride, dilation, expected)   total = max((ceil(n/s)-1)*s + d*(k-1)+1 - n, 0)
    (5, 4, 1, 1, (1, 2)),   # total 4 + 4 - 5 = 3 -> odd cell after
    (4, 3, 2, 1, (0, 1)),   # total 2 + 3 - 4 = 1
    (5, 3, 1, 1, (1, 1)),   # total 4 + 3 - 5 = 2
    (10, 2, 3, 1, (0, 1)),  # out 4: total 9 + 2 - 10 = 1
    (6, 1, 4, 1, (0, 0)),   # out 2: 4 + 1 - 6 = -1 -> 0
    (4, 2, 2, 1, (0, 0)),   # exact tiling
    (1, 4, 1, 1, (1, 2)),   # total 0 + 4 - 1 = 3
    (9, 3, 1, 2, (2, 2)),   # span 5: total 8 + 5 - 9 = 4
    (7, 3, 2, 3, (3, 3)),   # out 4, span 7: total 6 + 7 - 7 = 6
    (8, 3, 2, 2, (1, 2)),   # out 4, span 5: total 6 + 5 - 8 = 3
    (0, 3, 2, 1, (0, 0)),   # empty axis
]


@pytest.mark.parametrize(("n", "window", "stride", "dilation", "expected"), HAND_SAME_PADS)
def test_same_pads_hand(n, window, stride, dilation, expected):
    assert same_pads(n, window, stride, dilation) == expected
    if dilation == 1:
        assert same_pads(n, window, stride) == expected


# ----------------------------------------------------------------------------- vs Keras shapes


@st.composite
def _axis_configs(draw, dilated: bool):
    n = draw(st.integers(1, 40), label="n")
    window = draw(st.integers(1, 8), label="window")
    stride = draw(st.integers(1, 10), label="stride")
    dilation = draw(st.integers(1, 4), label="dilation") if dilated else 1
    padding = draw(st.sampled_from(["valid", "same"]), label="padding")
    return n, window, stride, dilation, padding


@given(_axis_configs(dilated=False))
def test_output_length_vs_keras_pooling_shape(cfg):
    """``keras.ops.max_pool`` symbolic output length (Keras's pooling shape code)."""
    keras = pytest.importorskip("keras")
    n, k, s, _, padding = cfg
    try:
        want = keras.ops.max_pool(keras.KerasTensor((1, n, 1)), k, s, padding).shape[1]
    except ValueError:                  # Keras: "output size would be zero or negative"
        assert padding == "valid" and k > n
        with pytest.raises(ValueError, match="window"):
            output_length(n, k, s, padding)
        return
    assert output_length(n, k, s, padding) == want, cfg


@given(_axis_configs(dilated=True))
def test_output_length_vs_keras_conv_shape(cfg):
    """``keras.ops.conv`` symbolic output length, with dilation (stride and dilation > 1 too:
    Keras's shape code accepts the combination even though the TF kernel does not)."""
    keras = pytest.importorskip("keras")
    n, k, s, d, padding = cfg
    try:
        want = keras.ops.conv(keras.KerasTensor((1, n, 1)), keras.KerasTensor((k, 1, 1)),
                              strides=s, padding=padding, dilation_rate=d).shape[1]
    except ValueError:
        assert padding == "valid" and d * (k - 1) + 1 > n
        with pytest.raises(ValueError, match="window"):
            output_length(n, k, s, padding, d)
        return
    assert output_length(n, k, s, padding, d) == want, cfg


@given(data=st.data())
def test_same_pads_vs_tf_same_convolution(data):
    """TF "SAME" == "VALID" on the input padded by ``same_pads`` (exact, see module doc)."""
    tf = pytest.importorskip("tensorflow")
    n = data.draw(st.integers(1, 24), label="n")
    k = data.draw(st.integers(1, 7), label="window")
    s = data.draw(st.integers(1, 8), label="stride")
    d = 1 if s > 1 else data.draw(st.integers(1, 4), label="dilation")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = rng.integers(-9, 10, size=(1, n, 1)).astype(np.float64)
    w = rng.integers(1, 10, size=(k, 1, 1)).astype(np.float64)
    before, after = same_pads(n, k, s, d)
    same = tf.nn.convolution(x, w, strides=s, padding="SAME", dilations=d).numpy()
    xp = np.pad(x, ((0, 0), (before, after), (0, 0)))
    valid = tf.nn.convolution(xp, w, strides=s, padding="VALID", dilations=d).numpy()
    assert same.shape[1] == output_length(n, k, s, "same", d)
    assert np.array_equal(same, valid), (
        f"same_pads({n}, {k}, {s}, {d}) = {(before, after)} does not reproduce TF SAME:\n"
        f"SAME {same.ravel()}\nVALID(padded) {valid.ravel()}")


@given(data=st.data())
def test_same_pads_split_and_total(data):
    """Invariants, also for strides > 1 with dilation > 1 (which TF cannot run): ceil(n/s)
    outputs, the padded axis ends exactly at the last window's last cell (or at n), and the
    odd cell goes after (before <= after <= before + 1)."""
    n = data.draw(st.integers(1, 60), label="n")
    k = data.draw(st.integers(1, 9), label="window")
    s = data.draw(st.integers(1, 9), label="stride")
    d = data.draw(st.integers(1, 4), label="dilation")
    before, after = same_pads(n, k, s, d)
    out = output_length(n, k, s, "same", d)
    assert out * s >= n > (out - 1) * s                # out == ceil(n / s)
    span = d * (k - 1) + 1
    last_end = (out - 1) * s + span                      # one past the last window's last cell
    assert before <= after <= before + 1
    assert before + n + after == max(last_end, n)


# ----------------------------------------------------------------------------- errors


BAD = [
    # (id, func, args, exception, message fragment)
    ("negative n", output_length, (-1, 2, 1, "valid"), ValueError, "n must be >= 0, got -1"),
    ("window 0", output_length, (5, 0, 1, "valid"), ValueError, "window must be >= 1, got 0"),
    ("stride 0", output_length, (5, 2, 0, "same"), ValueError, "stride must be >= 1, got 0"),
    ("negative stride", output_length, (5, 2, -1, "same"), ValueError, "stride"),
    ("dilation 0", output_length, (5, 2, 1, "valid", 0), ValueError, "dilation"),
    ("padding causal", output_length, (5, 2, 1, "causal"), ValueError, "'causal'"),
    ("padding full", output_length, (5, 2, 1, "full"), ValueError, "padding"),
    ("padding None", output_length, (5, 2, 1, None), TypeError, "padding"),
    ("n float", output_length, (5.0, 2, 1, "valid"), TypeError, "n must be an int"),
    ("window bool", output_length, (5, True, 1, "valid"), TypeError, "window"),
    ("valid window > n", output_length, (2, 3, 1, "valid"), ValueError, "window 3"),
    ("same_pads negative n", same_pads, (-3, 2, 1), ValueError, "-3"),
    ("same_pads window 0", same_pads, (4, 0, 1), ValueError, "window"),
    ("same_pads stride 0", same_pads, (4, 2, 0), ValueError, "stride"),
    ("same_pads dilation 0", same_pads, (4, 2, 1, 0), ValueError, "dilation"),
    ("same_pads stride str", same_pads, (4, 2, "1"), TypeError, "stride"),
]


@pytest.mark.parametrize(("func", "args", "exc", "fragment"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_geometry_errors(func, args, exc, fragment):
    with pytest.raises(exc) as info:
        func(*args)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("call", [
    lambda x: pooling_ref.max_pool(x, (2, 2)),
    lambda x: pooling_ref.avg_pool(x, (3, 3), strides=(1, 1)),
    lambda x: pooling_ref.conv(x, np.zeros((3, 3, 3, 4), np.float32)),
])
def test_one_hwc_image_without_batch_axis_is_told_to_add_it(call):
    """A (H, W, C) image is a batch of 1D sequences (spatial rank = x.ndim - 2, as Keras
    reads it); a 2D window then names the missing batch axis and the fix."""
    with pytest.raises(ValueError, match=r"x has 3 dimensions, .* pass x\[None\]"):
        call(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError) as caught:                # a real rank mismatch: no hint
        pooling_ref.max_pool(np.zeros((2, 8, 8, 8, 3), np.float32), (2, 2))
    assert "x[None]" not in str(caught.value)
