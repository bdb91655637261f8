"""`fakenews predict`: score articles on a model server (TF Serving or `fakenews serve`).

One article (--text, with optional --title/--author) prints its probability and label. A CSV
(--csv; columns text and optionally id, title, author) is sent in chunks of --batch-size
with a progress bar, and id,probability,label rows go to --out or stdout. Exit code 1 when the
server fails, times out or cannot be reached (one line on stderr), 2 on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import sys
from typing import IO, TYPE_CHECKING, Iterator

from pipeline.input_check import CSV_FIELD_LIMIT, InputError

if TYPE_CHECKING:
    from serving.client import ModelClient

LABEL_NAMES = {0: "reliable", 1: "unreliable"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import MODEL_NAME
    from serving.client import DEFAULT_TIMEOUT_SECONDS

    server = parser.add_mutually_exclusive_group(required=True)
    server.add_argument("--rest", metavar="URL", help="REST API base, e.g. http://localhost:8501")
    server.add_argument("--grpc", metavar="HOST:PORT", help="gRPC API, e.g. localhost:8500")
    parser.add_argument("--model", default=MODEL_NAME, metavar="NAME", help="model name (default: %(default)s)")
    parser.add_argument("--version", type=int, metavar="N", help="a specific version (default: the latest)")
    parser.add_argument("--title", default="", help="with --text")
    parser.add_argument("--author", default="", help="with --text")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the article's text")
    source.add_argument("--csv", metavar="FILE", help="CSV of articles: text, and optionally id, title, author")
    parser.add_argument("--out", metavar="FILE", help="with --csv: write id,probability,label here, not to stdout")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="with --csv: articles per request (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help="per request (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    from serving.client import Article, ClientError, RestClient

    if args.csv is None and args.out:
        return _usage_error("--out goes with --csv")
    if args.csv is not None and (args.title or args.author):
        return _usage_error("--title and --author go with --text; with --csv they come from the file")
    if args.batch_size < 1:
        return _usage_error("--batch-size must be >= 1")

    client: ModelClient
    if args.rest:
        try:
            client = RestClient(args.rest, args.model, args.version, args.timeout)
        except ValueError as error:  # Not an http(s) address.
            return _usage_error(str(error))
    else:
        from serving.grpc_client import GrpcClient  # Imports TensorFlow: only when asked for.

        client = GrpcClient(args.grpc, args.model, args.version, args.timeout)
    try:
        with client:
            if args.text is not None:
                prediction = client.predict([Article(args.title, args.author, args.text)])[0]
                print(f"probability {prediction.probability:.6f}  "
                      f"label {prediction.label} ({LABEL_NAMES.get(prediction.label, '?')})")
            else:
                _predict_csv(client, args.csv, args.out, args.batch_size)
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OSError, csv.Error, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _predict_csv(client: ModelClient, path: str, out_path: str | None, batch_size: int) -> None:
    from tqdm import tqdm

    from serving.client import Article

    csv.field_size_limit(CSV_FIELD_LIMIT)
    total = _count_rows(path)
    with open(path, encoding="utf-8", newline="") as source, _output(out_path) as out:
        reader = csv.DictReader(source)
        if "text" not in (reader.fieldnames or []):
            raise InputError(f"{path} has no 'text' column (columns: {', '.join(reader.fieldnames or [])})")
        writer = csv.writer(out)
        writer.writerow(["id", "probability", "label"])
        numbered = enumerate(reader, start=1)
        with tqdm(total=total, unit="article", file=sys.stderr, disable=None) as progress:
            while chunk := list(itertools.islice(numbered, batch_size)):
                articles = [Article(row.get("title") or "", row.get("author") or "", row.get("text") or "")
                            for _, row in chunk]
                for (number, row), prediction in zip(chunk, client.predict(articles)):
                    # 9 significant digits: the float32 probability exactly.
                    writer.writerow([row.get("id", number), f"{prediction.probability:.9g}", prediction.label])
                progress.update(len(chunk))


def _count_rows(path: str) -> int:
    with open(path, encoding="utf-8", newline="") as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        yield f
