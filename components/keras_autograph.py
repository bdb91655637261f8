"""What AutoGraph converts: neither tf_keras' code nor ours.

Inside a tf.function AutoGraph rewrites every Python function it reaches unless its module is on
the rule list of tensorflow/python/autograph/core/config.py. TF 2.16's list names `keras`
(Keras 2 as TensorFlow once shipped it) but not `tf_keras`, the same code under the name this
stack uses (TF_USE_LEGACY_KERAS=1), so every trace of a training, evaluation or export step
parsed and rewrote Keras' whole layer and training code: about 40 s of a small model's first
epoch, against 5 s of arithmetic. Keras is written to run unconverted (it was, as `keras`), and
later TensorFlow releases add exactly this rule; the graphs, and so the numbers, are the same.

Our own packages get the same rule, for the same reason: their control flow is written as TF
ops (tf.while_loop, tf.cond) and their Python `if`s and `for`s test Python values, so the
rewrite changes no graph and costs only trace time (the stemmer and the attribution are long:
building the unit tests' fixture model took 47 s of CPU with it, 38 s without). Code that needed AutoGraph
would fail loudly unconverted (a tensor used as a Python bool). The Transform's entry point,
traced where this module is not imported, is marked itself (`preprocessing_fn`).
"""

from __future__ import annotations

from tensorflow.python.autograph.core import config as _autograph_config

# By module name prefix: tf_keras, and this project's packages that build graphs.
_RULES = tuple(_autograph_config.DoNotConvert(package) for package in ("tf_keras", "components", "preprocessing"))


def leave_keras_and_ours_unconverted() -> None:
    """Adds the rules (once) to AutoGraph's list, which it reads on every conversion."""
    present = {str(rule) for rule in _autograph_config.CONVERSION_RULES}
    missing = tuple(rule for rule in _RULES if str(rule) not in present)
    if missing:
        _autograph_config.CONVERSION_RULES = (*_autograph_config.CONVERSION_RULES, *missing)
