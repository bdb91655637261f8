"""What the batch-scoring e2e tests share: fresh articles for the session run's model, the
served probabilities to compare with, and the shards `fakenews score` wrote."""

from __future__ import annotations

import csv
import glob
import os
import pathlib

import numpy as np

from preprocessing import features
from tests.conftest import SAMPLE_ROWS
from tests.data import read_rows

FRESH_ROWS = 400  # Articles after the session run's sample: real, and unseen by its model.


def fresh_articles() -> list[dict[str, str]]:
    return read_rows("articles.csv", limit=SAMPLE_ROWS + FRESH_ROWS)[SAMPLE_ROWS:]


def write_csv(path: pathlib.Path, rows: list[dict[str, str]]) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


Score = tuple[str, float, int]  # (id, probability, label); ids may repeat, as inputs may.


def served_scores(serving_base: str, rows: list[dict[str, str]]) -> list[Score]:
    """Each row's score from the newest version's serving_default as `fakenews serve` runs it
    (TF Serving's way: the SignatureDef in a Session), in requests of 64 articles."""
    from serving.servable import Servable
    from serving.version_folders import list_versions

    version, path = max(list_versions(serving_base).items())
    signature = Servable(path, version, max_batch=64).signature("serving_default")
    found = []
    for start in range(0, len(rows), 64):
        chunk = rows[start:start + 64]
        outputs = signature.run({key: np.array([row[key].encode("utf-8") for row in chunk], dtype=object)
                                 for key in features.TEXT_KEYS})
        found += [(row[features.ID_KEY], float(probability), int(label))
                  for row, probability, label in zip(chunk, outputs["probability"], outputs["label"])]
    return found


def scored_shards(output: pathlib.Path) -> list[Score]:
    """The rows of every shard `fakenews score` wrote in output."""
    found = []
    for shard in sorted(glob.glob(os.path.join(output, "scores-*-of-*.csv"))):
        with open(shard, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["id", "probability", "label"]
            found += [(row["id"], float(row["probability"]), int(row["label"])) for row in reader]
    return found


def assert_served_scores(scored: list[Score], served: list[Score]) -> None:
    """Every article scored once, each probability within 1e-5 of the served one, the same label
    (rows in id order; a repeated id's rows in order of probability)."""
    scored, served = sorted(scored), sorted(served)
    assert [row[0] for row in scored] == [row[0] for row in served]
    np.testing.assert_allclose([row[1] for row in scored], [row[1] for row in served], rtol=0, atol=1e-5)
    assert [row[2] for row in scored] == [row[2] for row in served]
