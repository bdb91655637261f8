"""The `fakenews` command line: the top floor, above pipeline/, kubeflow/, serving/.

It lives in its own package so that it may import every other floor while none of them
imports it (see README, "Layout").
"""

import os

# tf.Transform 1.16 and TFMA 0.47 need Keras 2 (tf_keras); this must be set before
# TensorFlow is first imported, in this process and in the Beam workers it starts.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ logs only confuse a CLI user; errors surface as exceptions.
