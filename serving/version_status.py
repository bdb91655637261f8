"""VersionStatus: one model version's state, as TF Serving's ModelVersionStatus reports it.

The local server's model store records them; both clients return them from `status()`.
Standard library only, so the REST client does not import protobuf or TensorFlow for it.
"""

from __future__ import annotations

import dataclasses

# ModelVersionStatus.State names (tensorflow_serving/apis/get_model_status.proto).
LOADING = "LOADING"
AVAILABLE = "AVAILABLE"
END = "END"  # Unloaded, or failed to load (then error_code is not OK).
OK = "OK"  # tensorflow.error.Code name of a version without error.


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str  # A ModelVersionStatus.State name: LOADING, AVAILABLE, END, ...
    error_code: str = OK  # Its status' tensorflow.error.Code name, e.g. OK, INVALID_ARGUMENT.
    error_message: str = ""
