"""Benchmark of the `explain` signature: faithfulness, completeness and latency, on real articles.

Steps (one run; ~15-30 minutes on 2 busy cores):
  1. articles.csv split as the pipeline's ExampleGen splits it (its own conversion and
     partition code, tests/test_split_stability.py); the fixture's model (`improved`, the
     LSTM: the rules below are taken over its word vectors) trained on the train split and
     exported by the pipeline's Trainer code, without Beam (tests/fixture_model.py's steps, all
     epochs of the preset);
  2. faithfulness, the deletion test (tests/explain_checks.py): for every eval-split article the
     model calls unreliable (with more than 5 words), the 5 words with the largest attribution
     toward unreliable are deleted, and separately 10 sets of 5 random words of the same
     article; the share of (article, random set) comparisons the top words' deletion wins.
     Three rules on the same articles, computed in process on the exported network rebuilt
     from the SavedModel's weights: integrated gradients as served (16 points, refined where
     incomplete), the same without refinement, and gradient x input; the served `explain`
     signature is checked to return the first one's attributions;
  3. completeness on every eval article, from the served signature: the shares' sum against
     probability - baseline probability (and, in step 2, for each rule);
  4. latency: p50 of `explain` and `serving_default` for one median-length article, in child
     processes set up as `fakenews serve` is (serving/settings.py), fed and fetched in a Session
     as TF Serving does (serving.servable), interleaved request by request; the median of
     three children.

Writes bench/results/explain.json and bench/results/explain_faithfulness.png.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_explain.py [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "explain.json"
FIGURE = REPO / "bench" / "results" / "explain_faithfulness.png"
LATENCY_CALLS = 200
LATENCY_ROUNDS = 3  # Child processes measuring latency; the figures are their median.


def split_rows(work: pathlib.Path) -> tuple[pathlib.Path, list[dict[str, str]]]:
    """The train split as a CSV for the model's steps, and the eval split's rows."""
    from pipeline.config import PipelineConfig
    from tests.data import canonical_path
    from tests.test_split_stability import pipeline_splits

    source = canonical_path("articles.csv")
    eval_ids = pipeline_splits(source, PipelineConfig())["eval"]
    with source.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    train_csv = work / "train.csv"
    with train_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(row for row in rows if row["id"] not in eval_ids)
    return train_csv, [row for row in rows if row["id"] in eval_ids]


def trained_model(work: pathlib.Path, train_csv: pathlib.Path) -> str:
    """The pushed SavedModel of the fixture's model trained on the train split (reused if there)."""
    from components.hyperparameters import hyperparameters_for
    from serving.version_folders import list_versions
    from tests.fixture_model import FIXTURE_PRESET, build

    model_root = work / "model"
    serving_base = model_root / "serving" / "fakenews"
    if not (serving_base.exists() and list_versions(str(serving_base))):
        build(train_csv, model_root, epochs=hyperparameters_for(FIXTURE_PRESET).epochs)
    versions = list_versions(str(serving_base))
    return versions[max(versions)]


def network_of(loaded) -> object:
    """The exported network rebuilt in process from the SavedModel's weights (the fixture's preset), so
    both attribution rules can run on it; checked against the served probabilities by the caller."""
    from components.fused import fuse
    from components.hyperparameters import hyperparameters_for
    from components.model import build_model
    from tests.fixture_model import FIXTURE_PRESET

    hparams = hyperparameters_for(FIXTURE_PRESET)
    network = fuse(build_model(hparams), hparams)
    weights = {variable.name: variable for variable in loaded.model.variables}
    if sorted(weights) != sorted(variable.name for variable in network.variables):
        raise SystemExit(f"error: the SavedModel's network is not the {FIXTURE_PRESET} preset's")
    for variable in network.variables:
        variable.assign(weights[variable.name])
    return network


def explain_all(loaded, rows: list[dict[str, str]], batch: int = 64) -> dict[str, list]:
    """The explain signature's outputs for every row, each article's words without padding."""
    import numpy as np
    import tensorflow as tf

    from components import signatures
    from preprocessing import features

    found: dict[str, list] = {key: [] for key in ("probability", "label", "baseline", "words", "attributions")}
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        out = loaded.signatures[signatures.EXPLAIN](
            **{key: tf.constant([row[key] for row in chunk]) for key in features.TEXT_KEYS})
        out = {name: value.numpy() for name, value in out.items()}
        for row in range(len(chunk)):
            count = int(out[signatures.TOKEN_COUNT][row])
            found["probability"].append(float(out[signatures.PROBABILITY][row]))
            found["label"].append(int(out[signatures.PREDICTED_LABEL][row]))
            found["baseline"].append(float(out[signatures.BASELINE_PROBABILITY][row]))
            found["words"].append(tuple(token.decode() for token in out[signatures.TOKENS][row][:count]))
            found["attributions"].append(np.asarray(out[signatures.ATTRIBUTIONS][row][:count]))
    return found


def rule_attributions(loaded, network, rows: list[dict[str, str]], rule, batch: int = 64) -> dict[str, list]:
    """Each row's word attributions by `rule`, its probability and baseline probability, computed
    in process on the rebuilt network from the ids the served model reads (its
    transform_features signature)."""
    import numpy as np
    import tensorflow as tf

    from components import attribution
    from preprocessing import features, text
    from tests.data import serialized_example

    view = attribution.ModelView(network)
    attribute = tf.function(lambda ids: attribution.attribute(view, {features.TOKEN_IDS_KEY: ids}, rule,
                                                              trim_padding=True))
    found: dict[str, list] = {"attributions": [], "probability": [], "baseline": []}
    for start in range(0, len(rows), batch):
        examples = tf.constant([serialized_example(row) for row in rows[start:start + batch]])
        token_ids = loaded.signatures["transform_features"](examples=examples)[features.TOKEN_IDS_KEY]
        shares, probability, baseline = attribute(token_ids)
        found["attributions"].extend(np.asarray(row) for row in text.unpad_front(shares, token_ids).to_list())
        found["probability"].extend(probability.numpy().tolist())
        found["baseline"].extend(baseline.numpy().tolist())
    return found


def served_score(loaded):
    import numpy as np
    import tensorflow as tf

    signature = loaded.signatures["serving_default"]

    def score(texts: list[str], owners: list[int]) -> np.ndarray:  # An LSTM reads words only.
        empty = tf.constant([""] * len(texts))
        return signature(title=empty, author=empty, text=tf.constant(texts))["probability"].numpy()
    return score


def rules():
    """The attribution rules compared: the served one, its first integral alone, gradient x input."""
    import dataclasses

    from components import attribution

    unrefined = dataclasses.replace(attribution.INTEGRATED_GRADIENTS, name="integrated_gradients_16_unrefined",
                                    refine=False)
    return (attribution.INTEGRATED_GRADIENTS, unrefined, attribution.GRADIENT_X_INPUT)


def faithfulness(loaded, network, rows: list[dict[str, str]], explained: dict[str, list]) -> dict[str, object]:
    """The deletion test of each rule on the eval articles the model calls unreliable, and how
    closely each rule's shares add up to the change from the baseline there."""
    import numpy as np

    from components import attribution, signatures
    from tests import explain_checks as deletion

    chosen = [i for i, (label, words) in enumerate(zip(explained["label"], explained["words"]))
              if label == 1 and len(words) > deletion.DELETED]
    score = served_score(loaded)
    results: dict[str, object] = {"articles": len(chosen)}
    for rule in rules():
        found = rule_attributions(loaded, network, [rows[i] for i in chosen], rule)
        if rule is signatures.EXPLAIN_RULE:  # The served signature computes the same.
            served = [explained["attributions"][i] for i in chosen]
            results["served_vs_in_process_max_abs"] = float(max(
                np.abs(a - b).max() for a, b in zip(found["attributions"], served)))
        outcomes = deletion.run([deletion.Explained(explained["probability"][i], explained["words"][i], tuple(s))
                                 for i, s in zip(chosen, found["attributions"])], score)
        full_error = max(abs(o.full - explained["probability"][i]) for i, o in zip(chosen, outcomes))
        results[rule.name] = {
            "points": len(rule.points),
            "refined_points": attribution.REFINED_STEPS if rule.refine else 0,
            "top_beats_random_share": deletion.top_beats_random(outcomes),
            "articles_top_beats_mean_random": float(np.mean([o.top_drop > np.mean(o.random_drops) for o in outcomes])),
            "mean_top_drop": float(np.mean([o.top_drop for o in outcomes])),
            "mean_random_drop": float(np.mean([np.mean(o.random_drops) for o in outcomes])),
            "rejoined_text_max_probability_error": full_error,
            "completeness": completeness(found["probability"], found["baseline"], found["attributions"]),
            "_drops": ([o.top_drop for o in outcomes], [float(np.mean(o.random_drops)) for o in outcomes]),
        }
    return results


def completeness(probability: list[float], baseline: list[float], attributions: list) -> dict[str, object]:
    """How far the shares' sum misses probability - baseline (tests/explain_checks.py's bounds)."""
    import numpy as np

    from tests import explain_checks

    totals = np.array([shares.sum() for shares in attributions])
    relative, absolute = explain_checks.completeness_errors(probability, baseline, totals)
    return {"articles": len(totals), "articles_with_material_change": len(relative),
            "median_relative_error": float(np.median(relative)), "max_relative_error": float(relative.max()),
            "max_abs_error_where_change_is_small": float(absolute.max(initial=0)),
            "share_complete": float(np.mean(explain_checks.complete(probability, baseline, totals)))}


def figure(results: dict[str, object], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    compared = rules()
    fig, axes = plt.subplots(1, len(compared), figsize=(5 * len(compared), 4.8), sharey=True)
    for ax, rule in zip(axes, compared):
        top, random = results[rule.name]["_drops"]
        low, high = min(0.0, min(random), min(top)), max(max(top), max(random)) * 1.05
        ax.scatter(random, top, s=8, alpha=0.6)
        ax.plot([low, high], [low, high], color="grey", lw=1)
        ax.set(title=f"{rule.name.replace('_', ' ')}\ntop beats random in "
                     f"{results[rule.name]['top_beats_random_share']:.1%} of comparisons",
               xlabel="probability drop, 5 random words deleted (mean of 10 draws)")
    axes[0].set_ylabel("probability drop, the 5 words most toward unreliable deleted")
    fig.suptitle(f"Deletion test: the {results['articles']} eval articles the model calls unreliable")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def latency_child(model_dir: str) -> None:
    """In the child, set up as `fakenews serve`: p50 of both signatures for a median article."""
    from serving import settings

    settings.apply_serving_environment()
    import time

    import numpy as np

    from preprocessing import features
    from serving.servable import Servable
    from tests import reference
    from tests.data import read_rows

    rows = read_rows("articles.csv", limit=400)
    lengths = [len(reference.clean(reference.join_fields(*(row[k] for k in features.TEXT_KEYS)))) for row in rows]
    article = rows[int(np.argsort(lengths)[len(lengths) // 2])]
    request = {key: np.array([article[key].encode()], dtype=object) for key in features.TEXT_KEYS}
    servable = Servable(model_dir, version=0, max_batch=64)
    signatures = {name: servable.signature(name) for name in ("serving_default", "explain")}
    times: dict[str, list[float]] = {name: [] for name in signatures}
    for _ in range(10):  # Warm up.
        for signature in signatures.values():
            signature.run(request)
    for _ in range(LATENCY_CALLS):  # Interleaved, so a busy machine slows both alike.
        for name, signature in signatures.items():
            start = time.perf_counter()
            signature.run(request)
            times[name].append(time.perf_counter() - start)
    p50 = {name: 1e3 * float(np.median(values)) for name, values in times.items()}
    print(json.dumps({"tokens": int(np.median(lengths)), "serving_default_p50_ms": p50["serving_default"],
                      "explain_p50_ms": p50["explain"], "ratio": p50["explain"] / p50["serving_default"]}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default=str(REPO / "runs" / "bench_explain"),
                        help="folder for the split, the model and its steps (reused when there)")
    parser.add_argument("--latency-child", metavar="MODEL_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latency_child:
        latency_child(args.latency_child)
        return 0

    import numpy as np
    import tensorflow as tf

    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    train_csv, eval_rows = split_rows(work)
    model_dir = trained_model(work, train_csv)
    loaded = tf.saved_model.load(model_dir)
    network = network_of(loaded)
    explained = explain_all(loaded, eval_rows)
    served = np.concatenate([served_score_rows(loaded, eval_rows[start:start + 64])
                             for start in range(0, len(eval_rows), 64)])
    results = {
        "faithfulness": faithfulness(loaded, network, eval_rows, explained),
        "completeness": completeness(explained["probability"], explained["baseline"], explained["attributions"]),
        "explain_vs_serving_default_max_abs": float(np.abs(np.array(explained["probability"]) - served).max()),
    }
    figure(results["faithfulness"], FIGURE)
    rounds = []
    for _ in range(LATENCY_ROUNDS):
        child = subprocess.run([sys.executable, __file__, "--latency-child", model_dir], check=True,
                               capture_output=True, text=True)
        rounds.append(json.loads(child.stdout.strip().splitlines()[-1]))
    results["latency"] = {"rounds": rounds, **{key: float(np.median([r[key] for r in rounds]))
                                               for key in ("serving_default_p50_ms", "explain_p50_ms", "ratio")}}
    for rule in results["faithfulness"].values():
        if isinstance(rule, dict):
            rule.pop("_drops")
    output = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "load_average_before": [round(x, 2) for x in load_before]},
        "model": {"dir": model_dir, "eval_articles": len(eval_rows), "train_csv": str(train_csv)},
        "results": results,
    }
    RESULTS.write_text(json.dumps(output, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def served_score_rows(loaded, rows: list[dict[str, str]]):
    import tensorflow as tf

    from preprocessing import features

    return loaded.signatures["serving_default"](
        **{key: tf.constant([row[key] for row in rows]) for key in features.TEXT_KEYS})["probability"].numpy()


if __name__ == "__main__":
    sys.exit(main())
