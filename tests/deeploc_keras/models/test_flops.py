"""Tests for deeploc_keras.models.flops: the analytic count against the architecture and TensorFlow's profiler."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from deeploc_keras.models.deeploc import build_deeploc
from deeploc_keras.models.flops import forward_flops
from deeploc_keras.models.pci import build_pci


@pytest.mark.parametrize(("preset", "side"), [("kraus2017", 60), ("study", 64)])
def test_forward_flops_matches_the_deeploc_architecture(preset, side):
    """Multiply-adds of the 8 convs and 3 dense layers of DeepLoc (60x60 crops in kraus2017, 64x64 in study)."""
    sides = (side, side, -(-side // 2), -(-side // 2), -(-side // 4), -(-side // 4), -(-side // 4), -(-side // 4))
    channels = [(2, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256), (256, 256)]
    macs = sum(s * s * 3 * 3 * cin * cout for s, (cin, cout) in zip(sides, channels, strict=True))
    macs += 8 * 8 * 256 * 512 + 512 * 512 + 512 * 19  # pool_3 SAME: 15 or 16 -> 8
    assert forward_flops(build_deeploc(19, preset, image_shape=(64, 64, 2))) == 2 * macs


def _profiler_flops(model: keras.Model) -> int:
    """Float operations of one forward pass of one row, as TensorFlow's graph profiler counts them."""
    specs = [tf.TensorSpec((1, *t.shape[1:]), t.dtype) for t in model.inputs]

    @tf.autograph.experimental.do_not_convert
    def forward(*x):
        return model(list(x) if len(x) > 1 else x[0], training=False)

    graph = tf.function(forward).get_concrete_function(*specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


@pytest.mark.parametrize("build", [lambda: build_deeploc(19, "study", 0.25), lambda: build_pci(0.125, seed=0)],
                         ids=["deeploc", "pci"])
def test_forward_flops_agrees_with_the_tensorflow_profiler(build):
    model = build()
    ours, profiler = forward_flops(model), _profiler_flops(model)
    # the profiler also counts biases and BatchNorm, which forward_flops leaves out (under 1 %)
    assert 0.98 * profiler < ours <= profiler


def test_forward_flops_raises_on_unknown_spatial_size():
    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(inputs))
    with pytest.raises(ValueError, match="'conv' has an unknown spatial output shape"):
        forward_flops(model)
