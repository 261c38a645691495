"""The TF1 checkpoint converter against a TF1-style DeepLoc graph built with tf.compat.v1."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.models.convert import convert_checkpoint, map_checkpoint_variables
from deeploc_keras.models.layers import PercentileStretch

tf1 = tf.compat.v1


def _stretch(cells: np.ndarray) -> np.ndarray:
    """The original stretchVector per cell and channel (float64, as the original)."""
    out = np.empty(cells.shape, dtype=np.float64)
    for i in range(cells.shape[0]):
        for c in range(cells.shape[3]):
            v = cells[i, :, :, c].astype(np.float64)
            lo, hi = np.percentile(v, 0.1), np.percentile(v, 99.9)
            v = np.minimum(v, hi) - lo
            out[i, :, :, c] = v / (hi - lo) if hi - lo > 1 else v
    return out


def _tf1_checkpoint(directory, crops: np.ndarray, *, num_classes: int, seed: int = 0):
    """Build the original graph (nn_layers.py structure and scope names), warm the EMAs, save; return logits."""
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [None, 60, 60, 2], name="input")
        is_training = tf1.placeholder(tf.bool, [], name="is_training")

        def rand(shape, loc, scale):
            return tf.constant(rng.normal(loc, scale, shape).astype("float32"))

        def batch_norm(h, n, axes, scope):
            with tf1.variable_scope(scope):
                beta = tf.Variable(rand([n], 0.0, 0.1), name="beta")
                gamma = tf.Variable(rand([n], 1.0, 0.1), name="gamma")
                mean, var = tf.nn.moments(h, axes, name="moments")
                ema = tf1.train.ExponentialMovingAverage(decay=0.5)
                update = ema.apply([mean, var])  # outside the cond: v2 control flow cannot create variables inside

                def with_update():
                    with tf.control_dependencies([update]):
                        return tf.identity(mean), tf.identity(var)

                m, v = tf1.cond(is_training, with_update, lambda: (ema.average(mean), ema.average(var)))
                return tf.nn.batch_normalization(h, m, v, beta, gamma, 1e-3)

        def layer(h, shape, name, *, act=True):
            with tf1.name_scope(name):
                with tf1.name_scope("weights"):
                    w = tf.Variable(tf1.truncated_normal(shape, stddev=0.1, seed=seed + len(name)))
                with tf1.name_scope("biases"):
                    b = tf.Variable(rand([shape[-1]], 0.1, 0.05))
                with tf1.name_scope("Wx_plus_b"):
                    pre = (tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") if len(shape) == 4 else tf.matmul(h, w)) + b
                with tf1.name_scope("batch_norm"):
                    axes = [0, 1, 2] if len(shape) == 4 else [0]
                    out = batch_norm(pre, shape[-1], axes, f"{name}_batch_norm")
                return tf.nn.relu(out, name="activation") if act else out

        def pool(h, name):
            with tf1.name_scope(name):
                return tf.nn.max_pool2d(h, 2, 2, "SAME")

        h = layer(x, [3, 3, 2, 64], "conv_1")
        h = pool(layer(h, [3, 3, 64, 64], "conv_2"), "pool1")
        h = layer(h, [3, 3, 64, 128], "conv_3")
        h = pool(layer(h, [3, 3, 128, 128], "conv_4"), "pool2")
        h = layer(h, [3, 3, 128, 256], "conv_5")
        for k in (6, 7, 8):
            h = layer(h, [3, 3, 256, 256], f"conv_{k}")
        h = tf.reshape(pool(h, "pool3"), [-1, 8 * 8 * 256])
        h = layer(h, [8 * 8 * 256, 512], "fc_1")
        h = layer(h, [512, 512], "fc_2")
        logits = layer(h, [512, num_classes], "final_layer", act=False)
        global_step = tf.Variable(0, trainable=False)
        labels = tf.one_hot(tf.zeros([tf.shape(x)[0]], tf.int32), num_classes)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        tf1.train.AdamOptimizer(0.1, epsilon=1e-8).minimize(loss, global_step=global_step)  # Adam slots
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            for _ in range(4):  # EMA (decay 0.5, from 0) -> batch statistics
                sess.run(logits, {x: crops, is_training: True})
            expected = sess.run(logits, {x: crops, is_training: False})
            prefix = tf1.train.Saver().save(sess, str(directory / "model.ckpt"), global_step=5000)
    return prefix, expected


@pytest.fixture(scope="module")
def tf1_checkpoint(tmp_path_factory):
    rng = np.random.default_rng(1)
    cells = (33000 + rng.gamma(2.0, 300.0, (3, 64, 64, 2))).astype("uint16").astype("float32")
    stretched = PercentileStretch()(cells).numpy()  # float32 as in the model; vs float64 numpy: see below
    np.testing.assert_allclose(stretched, _stretch(cells), atol=1e-5)
    crops = stretched[:, 2:62, 2:62, :]
    prefix, logits = _tf1_checkpoint(tmp_path_factory.mktemp("ckpt"), crops, num_classes=19)
    return prefix, cells, logits


def test_convert_checkpoint_matches_tf1_logits(tf1_checkpoint, tmp_path):
    import keras

    prefix, cells, expected = tf1_checkpoint
    names = [name for name, _ in tf.train.list_variables(prefix)]
    assert "conv_1/weights/Variable" in names and any(n.endswith("/Adam_1") for n in names)
    assert any(n.endswith("ExponentialMovingAverage") for n in names)
    out = convert_checkpoint(prefix, tmp_path / "deeploc.keras")
    model = keras.saving.load_model(out)
    assert model.output.shape == (None, 19)
    got = model(cells, training=False).numpy()
    assert np.abs(expected).max() > 0.1  # a real signal, not all zeros
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_convert_checkpoint_cli(tf1_checkpoint, tmp_path):
    prefix, _, _ = tf1_checkpoint
    out = tmp_path / "m.keras"
    result = CliRunner().invoke(main, ["convert-checkpoint", prefix, "--out", str(out), "--num-classes", "19"])
    assert result.exit_code == 0, result.output
    assert out.exists() and "wrote" in result.output
    again = CliRunner().invoke(main, ["convert-checkpoint", prefix, "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_convert_checkpoint_raises_num_classes_mismatch(tf1_checkpoint, tmp_path):
    prefix, _, _ = tf1_checkpoint
    with pytest.raises(InputError, match="19 classes; Received: num_classes=5"):
        convert_checkpoint(prefix, tmp_path / "m.keras", num_classes=5)
    assert not (tmp_path / "m.keras").exists()


def test_convert_checkpoint_raises_missing_checkpoint(tmp_path):
    out = tmp_path / "m.keras"
    result = CliRunner().invoke(main, ["convert-checkpoint", str(tmp_path / "model.ckpt-5000"), "--out", str(out)])
    assert result.exit_code == 2
    assert "model.ckpt-5000: not a readable TensorFlow checkpoint" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_convert_checkpoint_raises_existing_output(tmp_path):
    out = tmp_path / "m.keras"
    out.write_text("keep")
    with pytest.raises(OutputExistsError):
        convert_checkpoint(tmp_path / "model.ckpt-5000", out)
    assert out.read_text() == "keep"


def test_convert_checkpoint_raises_bad_suffix(tmp_path):
    with pytest.raises(InputError, match="must end in .keras"):
        convert_checkpoint(tmp_path / "model.ckpt-5000", tmp_path / "m.h5")


def _tiny_checkpoint(directory, variables: dict[str, tuple[int, ...]]) -> str:
    graph = tf.Graph()
    with graph.as_default():
        for name, shape in variables.items():
            tf.Variable(tf.zeros(shape), name=name)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            return tf1.train.Saver().save(sess, str(directory / "model.ckpt"), global_step=1)


def test_convert_checkpoint_raises_unmatched_variable(tmp_path):
    prefix = _tiny_checkpoint(tmp_path, {"conv_1/weights/Variable": (3, 3, 2, 64), "mystery/thing": (4,)})
    out = tmp_path / "m.keras"
    result = CliRunner().invoke(main, ["convert-checkpoint", prefix, "--out", str(out)])
    assert result.exit_code == 2
    assert "unmatched checkpoint variable 'mystery/thing'" in result.output
    assert not out.exists()


def test_convert_checkpoint_raises_missing_weights(tmp_path):
    prefix = _tiny_checkpoint(tmp_path, {"conv_1/weights/Variable": (3, 3, 2, 64),
                                         "final_layer/weights/Variable": (512, 19)})
    with pytest.raises(InputError, match="no variable for"):
        convert_checkpoint(prefix, tmp_path / "m.keras")


def test_map_checkpoint_variables_table():
    slots = map_checkpoint_variables([
        ("conv_3/biases/Variable", [128]),
        ("fc_1/batch_norm/fc_1_batch_norm/beta", [512]),
        ("fc_1_batch_norm/fc_1/batch_norm/fc_1_batch_norm/moments/Squeeze/ExponentialMovingAverage", [512]),
        ("fc_1_batch_norm/fc_1/batch_norm/fc_1_batch_norm/moments/Squeeze_1/ExponentialMovingAverage", [512]),
        ("conv_2/batch_norm/conv_2_batch_norm/moments/normalize/variance/ExponentialMovingAverage", [64]),
        ("beta1_power", []), ("beta2_power", []), ("Variable", []),
        ("conv_3/biases/Variable/Adam", [128]),
    ])
    assert slots == {
        ("conv_3", "bias"): "conv_3/biases/Variable",
        ("fc_1_bn", "beta"): "fc_1/batch_norm/fc_1_batch_norm/beta",
        ("fc_1_bn", "moving_mean"):
            "fc_1_batch_norm/fc_1/batch_norm/fc_1_batch_norm/moments/Squeeze/ExponentialMovingAverage",
        ("fc_1_bn", "moving_variance"):
            "fc_1_batch_norm/fc_1/batch_norm/fc_1_batch_norm/moments/Squeeze_1/ExponentialMovingAverage",
        ("conv_2_bn", "moving_variance"):
            "conv_2/batch_norm/conv_2_batch_norm/moments/normalize/variance/ExponentialMovingAverage",
    }


def test_map_checkpoint_variables_raises_duplicate():
    with pytest.raises(InputError, match="both map to conv_1.kernel"):
        map_checkpoint_variables([("conv_1/weights/Variable", [1]), ("conv_1/weights/Variable_1", [1])])
