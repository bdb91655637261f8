"""AutoGraph leaves tf_keras' own code alone, as it leaves TensorFlow's.

Inside a tf.function AutoGraph rewrites every Python function it reaches unless its module is on
the rule list of tensorflow/python/autograph/core/config.py. TF 2.16's list names `keras`
(Keras 2 as TensorFlow once shipped it) but not `tf_keras`, the same code under the name this
stack uses (TF_USE_LEGACY_KERAS=1), so every trace of a training, evaluation or export step
parsed and rewrote Keras' whole layer and training code: about 40 s of a small model's first
epoch, against 5 s of arithmetic. Keras is written to run unconverted (it was, as `keras`), and
later TensorFlow releases add exactly this rule; the graphs, and so the numbers, are the same.
Our own layers are still converted: Keras hands each subclassed layer's `call` to AutoGraph,
and their modules are not on the list.
"""

from __future__ import annotations

from tensorflow.python.autograph.core import config as _autograph_config

_TF_KERAS = _autograph_config.DoNotConvert("tf_keras")


def leave_tf_keras_unconverted() -> None:
    """Adds the rule (once) to AutoGraph's list, which it reads on every conversion."""
    if not any(str(rule) == str(_TF_KERAS) for rule in _autograph_config.CONVERSION_RULES):
        _autograph_config.CONVERSION_RULES = (*_autograph_config.CONVERSION_RULES, _TF_KERAS)
