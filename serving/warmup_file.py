"""Where a SavedModel ships its warmup requests, and how many TF Serving takes: TF Serving's
contract (servables/tensorflow/saved_model_warmup_util: kSavedModelAssetsExtraDirectory,
WarmupConsts::kRequestsFileName, kMaxNumRecords), stated once for the exporter
(components/warmup.py) and the local server's replay (serving/warmup.py)."""

from __future__ import annotations

import os

ASSETS_EXTRA = "assets.extra"
REQUESTS_FILE = "tf_serving_warmup_requests"
MAX_RECORDS = 1000


def requests_path(export_dir: str) -> str:
    return os.path.join(export_dir, ASSETS_EXTRA, REQUESTS_FILE)
