"""Which version is served: TF Serving's "latest 1" policy over the Pusher's base folder.

Version folders are those serving/version_folders.py names (the Pusher's rule too), so a push
written to a temporary folder and renamed into place (components/pusher.py) is never read
half-done. The new version is loaded and warmed up beside the old one, then swapped in;
requests already running keep their reference to the old servable and finish on it.

Local guards beyond TF Serving (which loads a new folder at the first poll that sees it, and
does not retry a version that failed): a copy made in place instead of renamed (TFX's stock
Pusher, cp, an object-store sync) can be seen half-written, so a new folder is loaded only
once its listing (names, sizes, mtimes) is unchanged between two polls, and a load that failed
is retried when the folder changes again.
"""

from __future__ import annotations

import logging
import os
import threading

from serving.errors import not_found
from serving.servable import Servable, as_serving_error
from serving.version_folders import list_versions
from serving.version_status import AVAILABLE, END, LOADING, VersionStatus

log = logging.getLogger(__name__)


def _listing(path: str) -> tuple | None:
    """(relative path, size, mtime) of every file below path; None if it changed while read."""
    files = []
    try:
        for root, _, names in os.walk(path):
            for name in names:
                stat = os.stat(os.path.join(root, name))
                files.append((os.path.relpath(os.path.join(root, name), path), stat.st_size, stat.st_mtime_ns))
    except OSError:
        return None
    return tuple(sorted(files))


class ModelStore:
    """Serves the highest loadable version of one model and reports every version's state."""

    def __init__(self, base_path: str, model_name: str, *, max_batch: int, poll_seconds: float):
        """max_batch: the most rows a request may have (TF Serving's max_batch_size, batching.py)."""
        self.base_path = base_path
        self.model_name = model_name
        self._max_batch = max_batch
        self._poll_seconds = poll_seconds
        self._current: Servable | None = None
        self._statuses: dict[int, VersionStatus] = {}
        self._lock = threading.Lock()  # Guards _statuses; _current is swapped atomically.
        self._seen: tuple[int, tuple | None] | None = None  # Candidate at the previous poll.
        self._failed: tuple[int, tuple | None] | None = None  # Last failed load, with its listing.
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="model-store-poller", daemon=True)

    @property
    def current(self) -> Servable | None:
        return self._current

    def start(self) -> None:
        """Loads the highest version that loads (none yet is fine: the first push is picked up)."""
        if not os.path.isdir(self.base_path):
            raise FileNotFoundError(f"model base folder {self.base_path} does not exist")
        for version, path in sorted(list_versions(self.base_path).items(), reverse=True):
            if self._load(version, path, _listing(path)):
                break
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self._poller.is_alive():
            self._poller.join()

    def servable(self, model_name: str, version: int | None) -> Servable:
        current = self._current
        if model_name != self.model_name or current is None or version not in (None, current.version):
            request = f"Latest({model_name})" if version is None else f"Specific({model_name}, {version})"
            raise not_found(f"Servable not found for request: {request}")
        return current

    def statuses(self, model_name: str, version: int | None) -> list[VersionStatus]:
        """Newest first, like TF Serving, including versions that ended (unloaded or failed)."""
        with self._lock:
            statuses = dict(self._statuses)
        if model_name != self.model_name or not statuses:
            raise not_found(f"Could not find any versions of model {model_name}")
        if version is None:
            return [statuses[v] for v in sorted(statuses, reverse=True)]
        if version not in statuses:
            raise not_found(f"Could not find version {version} of model {model_name}")
        return [statuses[version]]

    def poll(self) -> None:
        """One look at the base folder; loads the highest version if it is new and stable."""
        versions = list_versions(self.base_path)
        if not versions:
            return  # Keep serving: an empty listing is more likely a glitch than an intent.
        version = max(versions)
        current = self._current
        if current is not None and current.version == version:
            self._seen = None
            return
        candidate = (version, _listing(versions[version]))
        stable = candidate == self._seen and candidate[1] is not None
        self._seen = candidate
        if stable and candidate != self._failed:
            self._load(version, versions[version], candidate[1])

    def _poll_forever(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                self.poll()
            except Exception:  # The poller must outlive any one bad listing.
                log.exception("polling %s failed", self.base_path)

    def _load(self, version: int, path: str, listing: tuple | None) -> bool:
        self._set_status(VersionStatus(version, LOADING))
        try:
            servable = Servable(path, version, self._max_batch)
            servable.warm_up()
        except Exception as error:
            self._failed = (version, listing)
            failure = as_serving_error(error)
            self._set_status(VersionStatus(version, END, failure.code.name, failure.message))
            log.error("%s version %d failed to load from %s: %s", self.model_name, version, path, failure.message)
            return False
        previous, self._current = self._current, servable
        self._set_status(VersionStatus(version, AVAILABLE))
        if previous is None:
            log.info("%s version %d loaded from %s", self.model_name, version, path)
        else:
            self._set_status(VersionStatus(previous.version, END))
            log.info("%s version %d loaded from %s, replacing version %d", self.model_name, version, path,
                     previous.version)
        return True

    def _set_status(self, status: VersionStatus) -> None:
        with self._lock:
            self._statuses[status.version] = status
