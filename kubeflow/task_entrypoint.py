"""The command of every compiled task: TFX's Kubeflow V2 entrypoint (kubeflow_v2_run_executor),
run unchanged, with two things around it.

- `s3://` for TensorFlow: this TensorFlow has no S3 file system of its own; tensorflow-io's
  registers one on import, which must have happened before TFX's executors open an artifact
  URI. tensorflow_transform happens to import tensorflow-io when it is installed; this
  entrypoint does not rely on that. Beam gets its S3 flags from the same environment
  (kubeflow/s3.py).
- The executor's own exit status: once a process has used tensorflow-io's S3 file system,
  tensorflow-io 0.37.1 on TF 2.16 aborts the interpreter at exit ("pure virtual method
  called", exit 134; tensorflow/io#2039), after the task's work is done. KFP would record that
  as a failed task (and retry it), so the process ends with os._exit and the status the
  entrypoint itself gave, once its output is flushed.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback

import tensorflow_io  # noqa: F401  (registers s3:// with tf.io.gfile)

from kubeflow import s3

COMMAND = ("python", "-m", "kubeflow.task_entrypoint")
TFX_ENTRYPOINT = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
# Bucket schemes a task's TensorFlow can open thanks to this module (the compiler checks URIs
# against these and the registered ones).
SCHEMES = (s3.SCHEME,)


def _exit_status(code: object) -> int:
    """SystemExit's code as the interpreter would turn it into a status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run(argv: list[str]) -> int:
    """Runs TFX's entrypoint as `python -m` would, with argv; returns its exit status."""
    os.environ.update(s3.task_environment(os.environ))
    sys.argv = [TFX_ENTRYPOINT, *argv, *s3.beam_args(os.environ, argv)]
    try:
        # The module's __main__ block is absl's app.run(main, flags_parser=...): it always
        # ends in SystemExit, with a traceback already printed for an executor's error.
        runpy.run_module(TFX_ENTRYPOINT, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return _exit_status(exit_.code)
    except BaseException:  # Anything absl did not turn into SystemExit: the interpreter's status.
        traceback.print_exc()
        return 1
    return 0


def main() -> None:
    status = run(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
