"""The TF1 checkpoint converter against a TF1-style DeepLoc graph built with tf.compat.v1."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from deeploc_keras.cli import main
from deeploc_keras.core.errors import InputError, OutputExistsError
from deeploc_keras.models.convert import convert_checkpoint, map_checkpoint_variables, map_pifia_variables
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


# --- PIFiA: the TF2 object checkpoint of arazd/pifia ---

_PIFIA_FILTERS = (64, 64, 128, 128, 256, 256, 256, 256)


class _Weights(tf.Module):
    """One attribute of the original ``pifia_network``: its variables under the Keras 2 weight names."""

    def __init__(self, rng: np.random.Generator, **shapes: tuple[tuple[int, ...], float, float]) -> None:
        super().__init__()
        for name, (shape, loc, scale) in shapes.items():
            value = rng.normal(loc, scale, shape)
            setattr(self, name, tf.Variable(np.abs(value) if name == "moving_variance" else value, dtype=tf.float32))


class _PifiaNetwork(tf.Module):
    """The original network's object graph (attributes conv1..conv8, bn1..bn8, d1, d2, d3) and its inference
    forward pass in tf.nn ops, as ``pifia_network.call`` with ``training=False``.

    A ``tf.Module`` and not a Keras 3 model: Keras 3 layers track some weights under other attribute names (a
    Dense layer's kernel is ``_kernel``), so only this reproduces the names ``model.save_weights`` of the
    original (TensorFlow 2.1 Keras) wrote.
    """

    def __init__(self, seed: int, *, proteins: int, width: float, channels: int = 1, dense=(128, 64)) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        previous = channels
        for k, filters in enumerate(_PIFIA_FILTERS, start=1):
            n = int(filters * width)
            setattr(self, f"conv{k}", _Weights(rng, kernel=((3, 3, previous, n), 0.0, (9 * previous) ** -0.5),
                                               bias=((n,), 0.0, 0.1)))
            setattr(self, f"bn{k}", _Weights(rng, gamma=((n,), 1.0, 0.1), beta=((n,), 0.0, 0.1),
                                             moving_mean=((n,), 0.0, 0.5), moving_variance=((n,), 1.0, 0.3)))
            previous = n
        sizes = (2 * 2 * previous, *dense, proteins)
        for k in (1, 2, 3):
            setattr(self, f"d{k}", _Weights(rng, kernel=((sizes[k - 1], sizes[k]), 0.0, sizes[k - 1] ** -0.5),
                                            bias=((sizes[k],), 0.0, 0.1)))

    def features(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        for k in range(1, 9):
            conv, bn = getattr(self, f"conv{k}"), getattr(self, f"bn{k}")
            x = tf.nn.conv2d(x, conv.kernel, 1, "VALID") + conv.bias
            x = tf.nn.relu(tf.nn.batch_normalization(x, bn.moving_mean, bn.moving_variance, bn.beta, bn.gamma, 1e-3))
            if k in (2, 4, 8):
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.reshape(x, [tf.shape(x)[0], -1])
        x = tf.nn.relu(x @ self.d1.kernel + self.d1.bias)
        d2 = tf.nn.relu(x @ self.d2.kernel + self.d2.bias)
        return d2, d2 @ self.d3.kernel + self.d3.bias


def _original_input(cells: np.ndarray) -> tf.Tensor:
    """``dataset_utils.decode_img_py_func`` then ``standardize_im`` on the GFP channel, cell by cell."""
    gfp = cells[..., :1].astype(np.float64)
    lo, hi = gfp.min(axis=(1, 2, 3), keepdims=True), gfp.max(axis=(1, 2, 3), keepdims=True)
    return tf.stack([tf.image.per_image_standardization(tf.constant(im, tf.float32)) for im in (gfp - lo) / (hi - lo)])


@pytest.fixture(scope="module")
def pifia_checkpoint(tmp_path_factory):
    """A checkpoint of a width-0.125 PIFiA over 20 proteins written with tf.train.Checkpoint, and raw cells."""
    net = _PifiaNetwork(3, proteins=20, width=0.125)
    prefix = tf.train.Checkpoint(net).write(str(tmp_path_factory.mktemp("pifia") / "pifia_weights_i0"))
    rng = np.random.default_rng(4)
    cells = (100 + rng.gamma(2.0, 300.0, (5, 64, 64, 2))).astype("uint16")
    return prefix, net, cells


def test_convert_checkpoint_pifia_matches_the_original_network(pifia_checkpoint, tmp_path):
    from deeploc_keras.models.loading import load_model
    from deeploc_keras.models.pifia import pifia_feature_model

    prefix, net, cells = pifia_checkpoint
    assert {name for name, _ in tf.train.list_variables(prefix)} >= {"conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE",
                                                                      "bn8/moving_variance/.ATTRIBUTES/VARIABLE_VALUE"}
    model = load_model(convert_checkpoint(prefix, tmp_path / "pifia.keras", source="pifia"))
    features, logits = net.features(_original_input(cells))
    assert model.info["method"] == "pifia" and model.output.shape == (None, 20)
    assert np.abs(logits.numpy()).max() > 0.1  # a real signal, not all zeros
    np.testing.assert_allclose(model(cells.astype("float32"), training=False).numpy(), logits.numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pifia_feature_model(model).predict_on_batch(cells.astype("float32")),
                               features.numpy(), rtol=1e-4, atol=1e-4)


def test_convert_checkpoint_pifia_cli_then_extract(pifia_checkpoint, tiny_store, tmp_path):
    prefix, _, _ = pifia_checkpoint
    out = tmp_path / "pifia.keras"
    result = CliRunner().invoke(main, ["convert-checkpoint", "--from", "pifia", prefix, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "PIFiA" in result.output
    extracted = CliRunner().invoke(main, ["extract", str(tiny_store), "--method", "pifia", "--model", str(out),
                                          "--out", str(tmp_path / "profiles")])
    assert extracted.exit_code == 0, extracted.output
    assert "64 pifia features" in extracted.output


def test_pifia_variable_shapes_are_the_released_checkpoints(pifia_checkpoint_index):
    """The converter expects exactly the 54 variables the index of arazd/pifia's pretrained weights lists."""
    from deeploc_keras.models.convert import pifia_variable_shapes
    from deeploc_keras.models.pifia import build_pifia

    variables = tf.train.list_variables(str(pifia_checkpoint_index.with_suffix("")))
    listed = {name: tuple(shape) for name, shape in variables if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    expected = pifia_variable_shapes(build_pifia(4049, image_shape=(64, 64, 2)))
    assert expected == listed
    assert sorted(map_pifia_variables(variables).values()) == sorted(listed)


def test_convert_checkpoint_raises_missing_pifia_shard(pifia_checkpoint_index, tmp_path):
    """The released index passes every name and shape check; the absent weight shard is then named."""
    out = tmp_path / "pifia.keras"
    result = CliRunner().invoke(main, ["convert-checkpoint", "--from", "pifia", str(pifia_checkpoint_index.with_suffix("")),
                                       "--out", str(out)])
    assert result.exit_code == 2
    assert "the weight shard pifia_weights_i0.data-00001-of-00002 is missing" in result.output
    assert "arazd/pifia" in result.output and not out.exists()


def test_map_pifia_variables_raises_unmatched_variable():
    with pytest.raises(InputError, match="unmatched checkpoint variable 'conv9/kernel"):
        map_pifia_variables([("conv9/kernel/.ATTRIBUTES/VARIABLE_VALUE", [3, 3, 1, 8])])
    with pytest.raises(InputError, match="unmatched checkpoint variable 'bn1/kernel"):
        map_pifia_variables([("bn1/kernel/.ATTRIBUTES/VARIABLE_VALUE", [8])])


def test_convert_checkpoint_raises_pifia_num_classes_mismatch(pifia_checkpoint, tmp_path):
    prefix, _, _ = pifia_checkpoint
    with pytest.raises(InputError, match="20 classes; Received: num_classes=4049"):
        convert_checkpoint(prefix, tmp_path / "m.keras", source="pifia", num_classes=4049)
    assert not (tmp_path / "m.keras").exists()


def test_convert_checkpoint_raises_unknown_source(tmp_path):
    with pytest.raises(InputError, match="unknown checkpoint source 'tf1'; expected one of"):
        convert_checkpoint(tmp_path / "x", tmp_path / "m.keras", source="tf1")
