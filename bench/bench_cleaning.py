"""Benchmark: documents per second of the notebook's text cleaning, Python vs in-graph.

Over every row of articles.csv (title + author + text):
  (a)  the notebook's loop exactly (`reference.notebook_clean`, stopwords.words('english')
       re-read for every word). It runs at tens of docs/s, so it is timed on the first
       --notebook-sample documents and the rate extrapolated; the output says so.
  (b)  the same loop with the stopwords in a frozenset (`reference.clean`).
  (c)  the in-graph cleaning WITH Porter stemming: `text.tokenize` + `porter.stem`, one
       tf.function call per batch of --batch-size documents.
  (c0) the same graph without stemming.
(c) also checks its tokens against (b)'s for every document and reports any difference.

Run from the repository root:
    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_cleaning.py
Writes the table to stdout and the figures to bench/results/cleaning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
from typing import Callable

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import nltk  # noqa: E402
import tensorflow as tf  # noqa: E402

from preprocessing import porter, text  # noqa: E402
from tests import reference  # noqa: E402
from tests.data import read_rows  # noqa: E402

FIELDS = ("title", "author", "text")


def graph_cleaner(with_stemming: bool) -> Callable[..., tf.RaggedTensor]:
    """The serving-side cleaning of one batch: join, tokenize (+ stem) as one tf.function."""
    spec = tf.TensorSpec([None], tf.string)

    @tf.function(input_signature=[spec, spec, spec])
    def clean(title: tf.Tensor, author: tf.Tensor, body: tf.Tensor) -> tf.RaggedTensor:
        tokens = text.tokenize(text.join_fields(title, author, body))
        if with_stemming:
            tokens = tokens.with_flat_values(porter.stem(tokens.flat_values))
        return tokens

    return clean


def run_graph(clean: Callable, columns: dict[str, list[str]], batch_size: int) -> list[list[str]]:
    """Cleans every document in batches; the timed unit (includes tensor conversion)."""
    out: list[list[str]] = []
    total = len(columns["text"])
    for start in range(0, total, batch_size):
        batch = [tf.constant(columns[field][start:start + batch_size]) for field in FIELDS]
        tokens = clean(*batch)
        values, splits = tokens.flat_values.numpy(), tokens.row_splits.numpy()
        out.extend([v.decode("ascii") for v in values[splits[i]:splits[i + 1]]]
                   for i in range(len(splits) - 1))
    return out


def timed(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time over `repeats` runs, and the last run's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebook-sample", type=int, default=300,
                        help="documents timed for (a), whose rate is extrapolated (default 300)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="runs of (b), (c), (c0); median")
    parser.add_argument("--output", type=pathlib.Path,
                        default=REPO_ROOT / "bench" / "results" / "cleaning.json")
    args = parser.parse_args()

    rows = read_rows("articles.csv")
    columns = {field: [row[field] or "" for row in rows] for field in FIELDS}
    documents = [reference.join_fields(*(row[field] for field in FIELDS)) for row in rows]
    n_docs = len(documents)
    sample = documents[:args.notebook_sample]

    # (a) The notebook's loop, on a sample.
    seconds_a, _ = timed(lambda: [reference.notebook_clean(doc) for doc in sample], 1)
    # (b) The loop with a stopword set, on everything.
    seconds_b, expected = timed(lambda: [reference.clean(doc) for doc in documents], args.repeats)
    unstemmed_tokens = [reference.clean(doc, stem=False) for doc in documents]

    # (c) and (c0): trace once outside the timing, then time whole passes.
    stemmed, unstemmed = graph_cleaner(True), graph_cleaner(False)
    for clean in (stemmed, unstemmed):
        run_graph(clean, {field: values[:2] for field, values in columns.items()}, 2)
    seconds_c, got = timed(lambda: run_graph(stemmed, columns, args.batch_size), args.repeats)
    seconds_c0, _ = timed(lambda: run_graph(unstemmed, columns, args.batch_size), args.repeats)

    differing = [i for i, (want, have) in enumerate(zip(expected, got)) if want != have]
    n_tokens = sum(len(tokens) for tokens in expected)
    # What the stemmer sees per batch: its distinct (unstemmed) tokens.
    batches = [unstemmed_tokens[start:start + args.batch_size]
               for start in range(0, n_docs, args.batch_size)]
    distinct_per_batch = statistics.mean(
        len({token for doc in batch for token in doc}) for batch in batches)

    rates = {
        "a_notebook_loop": len(sample) / seconds_a,
        "b_python_stopword_set": n_docs / seconds_b,
        "c_graph_with_stemming": n_docs / seconds_c,
        "c0_graph_without_stemming": n_docs / seconds_c0,
    }
    results = {
        "documents": n_docs,
        "tokens_after_stopwords": n_tokens,
        "mean_tokens_per_batch": round(n_tokens / len(batches), 1),
        "mean_distinct_tokens_per_batch": round(distinct_per_batch, 1),
        "notebook_sample_documents": len(sample),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "docs_per_second": {key: round(value, 1) for key, value in rates.items()},
        "seconds_for_all_documents": {
            "a_notebook_loop_extrapolated": round(n_docs / rates["a_notebook_loop"], 2),
            "b_python_stopword_set": round(seconds_b, 3),
            "c_graph_with_stemming": round(seconds_c, 3),
            "c0_graph_without_stemming": round(seconds_c0, 3),
        },
        "ratio_c_over_b": round(rates["c_graph_with_stemming"] / rates["b_python_stopword_set"], 2),
        "ratio_c_over_a": round(rates["c_graph_with_stemming"] / rates["a_notebook_loop"], 1),
        "graph_vs_reference_differing_documents": len(differing),
        "environment": {
            "tensorflow": tf.__version__,
            "nltk": nltk.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
    }

    print(f"articles.csv: {n_docs} documents, {n_tokens} tokens after stopword removal; "
          f"per batch of {args.batch_size}: {n_tokens / len(batches):.0f} tokens, "
          f"{distinct_per_batch:.0f} distinct (what the stemmer sees)")
    print(f"{'method':<46}{'docs/s':>10}{'s (all docs)':>14}")
    table = [
        ("(a) notebook loop, stopwords.words() per word*", rates["a_notebook_loop"],
         n_docs / rates["a_notebook_loop"]),
        ("(b) same loop, stopword frozenset", rates["b_python_stopword_set"], seconds_b),
        (f"(c) graph, with stemming (batch {args.batch_size})", rates["c_graph_with_stemming"],
         seconds_c),
        (f"(c0) graph, no stemming (batch {args.batch_size})", rates["c0_graph_without_stemming"],
         seconds_c0),
    ]
    for name, rate, seconds in table:
        print(f"{name:<46}{rate:>10.1f}{seconds:>14.2f}")
    print(f"* (a) timed on the first {len(sample)} documents; its all-documents time is "
          "extrapolated from that rate.")
    print(f"(b), (c), (c0): median of {args.repeats} full passes; (c)/(c0) exclude tracing.")
    print(f"c / b = {results['ratio_c_over_b']:.2f}x   c / a = {results['ratio_c_over_a']:.1f}x")
    print(f"graph tokens differ from the reference for {len(differing)} of {n_docs} documents"
          + (f" (first: rows {differing[:10]})" if differing else ""))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
