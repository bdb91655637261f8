"""oneDNN's CPU kernels vs TensorFlow's own, for serving one article at a time.

The choice is made when TensorFlow loads (TF_ENABLE_ONEDNN_OPTS), so each setting is measured
in its own child process, alternating settings round by round so a busy machine slows both
alike. Each child loads the pushed model and times its serving_default signature on one
median-length real article: the whole request, and the model alone on the request's token ids.
Writes bench/results/kernels.json.

    python bench/bench_kernels.py --model-base runs/local/serving/fakenews
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "kernels.json"
SETTINGS = {"oneDNN (TensorFlow's default)": "1", "TensorFlow's own kernels (serving)": "0"}
ROUNDS = 3
CALLS = 300


def measure(model_dir: str) -> dict[str, float]:
    """Runs in the child: median milliseconds of the whole request and of the model alone."""
    import numpy as np
    import tensorflow as tf

    from preprocessing import features, text
    from tests import reference
    from tests.data import read_rows, serialized_example
    from timing import call_seconds  # bench/, this script's folder

    rows = [row for row in read_rows("articles.csv", limit=400)]
    lengths = [len(reference.clean(reference.join_fields(*(row[k] for k in features.TEXT_KEYS)))) for row in rows]
    article = rows[int(np.argsort(lengths)[len(lengths) // 2])]
    loaded = tf.saved_model.load(model_dir)
    serve = loaded.signatures["serving_default"]
    request = {key: tf.constant([article[key]]) for key in features.TEXT_KEYS}
    ids = loaded.signatures["transform_features"](examples=tf.constant([serialized_example(article)]))
    token_ids = text.trim_padding(ids[features.TOKEN_IDS_KEY])
    model_alone = tf.function(lambda batch: loaded.model(batch, training=False))

    def median_ms(call) -> float:
        return 1e3 * float(np.median(call_seconds(call, CALLS, warm_up=30)))

    return {"tokens": int(token_ids.shape[1]), "request_ms": median_ms(lambda: serve(**request)),
            "model_ms": median_ms(lambda: model_alone(token_ids))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-base", required=True, help="folder of numbered versions; the newest is used")
    parser.add_argument("--child", metavar="MODEL_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    versions = sorted((p for p in pathlib.Path(args.model_base).iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        print(f"error: no numbered version under {args.model_base}", file=sys.stderr)
        return 1
    model_dir = str(versions[-1])
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    for round_ in range(1, ROUNDS + 1):
        for name, value in SETTINGS.items():
            env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": value}
            child = subprocess.run([sys.executable, __file__, "--model-base", args.model_base, "--child", model_dir],
                                   env=env, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(f"round {round_}/{ROUNDS} {name}: {runs[name][-1]}", flush=True)
    summary = {name: {key: min(run[key] for run in values) for key in ("request_ms", "model_ms")}
               for name, values in runs.items()}
    report = {"model_dir": model_dir, "tokens": runs[next(iter(SETTINGS))][0]["tokens"], "rounds": runs,
              "best_of_rounds": summary}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("| kernels | whole request p50 (ms) | model alone p50 (ms) |\n|---|---:|---:|")
    for name, values in summary.items():
        print(f"| {name} | {values['request_ms']:.2f} | {values['model_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
