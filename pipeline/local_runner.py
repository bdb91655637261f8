"""Runs the pipeline on this machine: LocalDagRunner, Beam DirectRunner, SQLite ML Metadata."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import Callable, Iterator, TextIO

import absl.logging

from tfx import v1 as tfx

from components.input_checks import InputError
from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline
from pipeline.run_folder import RunFolder

STOP_GRACE_SECONDS = 30  # After SIGTERM, for the run to wind down before the process is ended.
RESEND_SECONDS = 1.0  # How often SIGTERM is sent again until the run has unwound (_sigterm_interrupts).


class RunInterrupted(BaseException):
    """The run got SIGTERM (Kubernetes, CI timeouts, `kill`); `component` was running.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way up can
    swallow it (AutoGraph's, for one, turns an error raised while it converts a function into
    a warning, and the run would go on). TFX's launcher then does not record the execution it
    interrupts, so `run` marks it FAILED itself. A re-run reuses every component that had
    completed (from the cache) and runs the rest.
    """

    def __init__(self, component: str | None):
        self.component = component
        super().__init__(f"interrupted by SIGTERM{f' during {component}' if component else ''}")


class ComponentProgress(logging.Handler):
    """Turns LocalDagRunner's "Component X is running/finished." log lines into progress lines."""

    def __init__(self, write: Callable[[str], None]):
        super().__init__(logging.INFO)
        self._write = write
        self._started: dict[str, float] = {}
        self.durations: dict[str, float] = {}

    @property
    def running(self) -> str | None:
        """The component started last and not finished yet, if any."""
        return next(reversed(self._started), None)

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Component %s is running." and record.args:
            node_id = str(record.args[0])
            self._started[node_id] = time.monotonic()
            self._write(f"  ▸ {node_id} …")
        elif record.msg == "Component %s is finished." and record.args:
            node_id = str(record.args[0])
            self.durations[node_id] = time.monotonic() - self._started.pop(node_id, time.monotonic())
            self._write(f"  ✓ {node_id} ({self.durations[node_id]:.1f} s)")


@contextlib.contextmanager
def _logging_to(log_path: str, progress: ComponentProgress) -> Iterator[None]:
    """Full logs go to the run's log file; the console gets only progress lines."""
    root = logging.getLogger()
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    absl_logger = logging.getLogger("absl")
    tf_logger = logging.getLogger("tensorflow")  # TensorFlow gives its logger its own console handler.
    saved = (root.level, list(root.handlers), absl_logger.level, absl.logging.get_verbosity(),
             list(tf_logger.handlers))
    root.handlers = [file_handler]
    tf_logger.handlers = []
    root.setLevel(logging.INFO)
    # Through absl's own flag, not only the logger's level: a component that parses absl
    # flags mid-run (Transform does) would otherwise reset the level and hide INFO lines.
    absl.logging.set_verbosity(absl.logging.INFO)
    absl_logger.addHandler(progress)
    logging.captureWarnings(True)  # Library warnings go to the log file, not the console.
    try:
        yield
    finally:
        logging.captureWarnings(False)
        absl_logger.removeHandler(progress)
        root.setLevel(saved[0])
        root.handlers = saved[1]
        absl_logger.setLevel(saved[2])
        absl.logging.set_verbosity(saved[3])
        tf_logger.handlers = saved[4]
        file_handler.close()


@contextlib.contextmanager
def _sigterm_interrupts(progress: ComponentProgress) -> Iterator[None]:
    """SIGTERM raises RunInterrupted in the main thread, where the components run.

    Python runs a signal handler between any two bytecodes, a `__del__` or weakref callback's
    included, and an exception raised there is only printed: the interrupt is lost. So, until
    the run has unwound, the signal is sent again every RESEND_SECONDS (each resent one raises
    again); the run still going STOP_GRACE_SECONDS after the first ends the process at once
    (SIGKILL), as does a second SIGTERM from outside."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Only the main thread may set signal handlers; SIGTERM keeps its meaning.
        return
    interrupted, resent, unwound = threading.Event(), threading.Event(), threading.Event()
    sending = threading.Lock()  # Held while a resent signal is sent, so none comes after the unwinding.

    def resend_until_unwound() -> None:
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while not unwound.wait(RESEND_SECONDS):
            with sending:
                if unwound.is_set():
                    return
                if time.monotonic() >= deadline:
                    os.kill(os.getpid(), signal.SIGKILL)
                resent.set()
                os.kill(os.getpid(), signal.SIGTERM)

    def interrupt(signum: int, frame: object) -> None:
        if resent.is_set():
            resent.clear()
        elif interrupted.is_set():  # A second SIGTERM from outside: end now.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        else:
            interrupted.set()
            threading.Thread(target=resend_until_unwound, name="sigterm-resend", daemon=True).start()
        raise RunInterrupted(progress.running)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        with sending:
            unwound.set()
        signal.signal(signal.SIGTERM, previous)


def _fail_unfinished_executions(metadata_path: str, since_ms: int) -> None:
    """Marks FAILED the executions this run left RUNNING: an interrupt (RunInterrupted,
    KeyboardInterrupt) bypasses the launcher's own failure bookkeeping, and a forever-RUNNING
    execution would mislead whoever reads the store."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    try:
        store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
        unfinished = [execution for execution in store.get_executions()
                      if execution.last_known_state == metadata_store_pb2.Execution.RUNNING
                      and execution.create_time_since_epoch >= since_ms]
        for execution in unfinished:
            execution.last_known_state = metadata_store_pb2.Execution.FAILED
        if unfinished:
            store.put_executions(unfinished)
    except Exception:  # The interrupt is the news; a bookkeeping failure must not mask it.
        logging.getLogger(__name__).exception("could not mark the interrupted executions FAILED")


def _input_error(error: BaseException) -> InputError | None:
    """The InputError behind a failed run, if bad input is what failed it: the ExampleGen's
    checks raise it inside Beam, which may re-raise it with its own type around it."""
    while error is not None:
        if isinstance(error, InputError):
            return error
        error = error.__cause__ or error.__context__
    return None


def run(config: PipelineConfig, data: str, folder: RunFolder, out: TextIO | None = None) -> dict[str, float]:
    """Runs the whole DAG on the input `data` (a CSV file or a folder of them), with its
    artifacts, metadata and pushed models in `folder`; its ExampleGen checks the input. Returns
    each component's wall time in seconds. Raises InputError on bad input (the ExampleGen's
    one-line message), and RunInterrupted if SIGTERM arrives during the run. Progress goes to
    `out`, by default the sys.stdout of the moment (not of import time, which a test may have
    replaced)."""
    out = out or sys.stdout
    # Before the logs and Beam: the mistakes found without them.
    if not os.path.exists(data):
        raise InputError(f"{data}: no such file or folder")
    if os.path.isfile(data) and not data.lower().endswith(".csv"):  # input_config's rule.
        raise InputError(f"{data}: not a .csv file; pass a .csv file or a folder of them")
    os.makedirs(folder.path, exist_ok=True)
    pipeline = create_pipeline(
        config,
        folder.locations(data),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            folder.metadata_path
        ),
    )
    progress = ComponentProgress(lambda line: print(line, file=out, flush=True))
    started_ms = int(time.time() * 1000)
    with _logging_to(folder.log_path, progress), _sigterm_interrupts(progress):
        print(f"Input: {data}\nLog:   {folder.log_path}", file=out, flush=True)
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except BaseException as error:
            _fail_unfinished_executions(folder.metadata_path, started_ms)
            bad_input = _input_error(error)
            if bad_input is not None and bad_input is not error:
                raise InputError(str(bad_input)) from None
            raise
    return progress.durations
