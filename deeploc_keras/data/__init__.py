"""The data engine: the cell store and its reader, the order of cells, the tf.data pipelines, importers, the
synthetic screen.

``store`` and ``reader`` load no TensorFlow (``cellprofiler_features`` reads the store through them);
``pipeline`` and ``pairs`` build tf.data datasets.
"""
