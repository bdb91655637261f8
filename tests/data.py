"""Where the tests find the real data sets (read from ../shared, never copied into the repo)."""

from __future__ import annotations

import csv
import os
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def canonical_path(name: str) -> pathlib.Path:
    """Path of a file in shared/data/canonical; FAKENEWS_SHARED_DATA overrides shared/data."""
    base = pathlib.Path(os.environ.get("FAKENEWS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    path = base / "canonical" / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: the tests read the real data from ../shared/data "
            "(set FAKENEWS_SHARED_DATA to its location)"
        )
    return path


def read_rows(name: str, limit: int | None = None) -> list[dict[str, str]]:
    """Rows of a canonical CSV as dicts (quoted newlines handled by the csv module)."""
    with canonical_path(name).open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return [row for _, row in zip(range(limit) if limit is not None else iter(int, 1), reader)]


def serialized_example(row: dict[str, str], keys: tuple[str, ...] = ("title", "author", "text"),
                       with_label: bool = False) -> bytes:
    """A row as a serialized tf.Example, the way CsvExampleGen builds one: empty values are
    absent; the label, when asked for, as an int64."""
    import tensorflow as tf

    feature = {
        key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[row[key].encode("utf-8")]))
        for key in keys if row[key]
    }
    if with_label:
        feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row["label"])]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
