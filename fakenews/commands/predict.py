"""`fakenews predict`: score articles on a model server (TF Serving or `fakenews serve`).

One article (--text, with optional --title/--author) prints its probability and label. A CSV
(--csv; columns text and optionally id, title, author; a UTF-8 BOM is allowed) is sent in
chunks of --batch-size with a progress bar, and id,probability,label,token_count rows go to
--out or stdout, written and flushed batch by batch: when a batch fails, the rows scored before
it are kept and the error line says how many; --out is only created once the first batch is
scored, so a request that fails at once leaves no header-only file (nor overwrites one).
A row the model read nothing of (no a-z words: Cyrillic, CJK, ...) is flagged: its score says
nothing about the article. Exit code 1 when the server fails, times out or cannot be reached
(one line on stderr), 2 on bad input; a closed stdout (`| head`) ends it quietly.

--explain asks the model's explain signature instead: an article's line is followed by the
--top words that pushed it hardest toward unreliable and toward reliable, each with its
share of the probability; a CSV gets them as two more columns, the words strongest first.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
from typing import IO, TYPE_CHECKING, Callable

from components.input_checks import CSV_FIELD_LIMIT, InputError

if TYPE_CHECKING:
    from serving.client import Article, Explanation, ModelClient, Prediction

LABEL_NAMES = {0: "reliable", 1: "unreliable"}
OUTPUT_COLUMNS = ("id", "probability", "label", "token_count")
EXPLAIN_COLUMNS = ("toward_unreliable", "toward_reliable")  # With --explain: the top words, space-separated.
DEFAULT_TOP = 5
READ_NOTHING = "no a-z words: the model read nothing"
SHOWN_IDS = 10  # Ids named in the warning about rows the model read nothing of.
EXIT_SIGPIPE = 128 + 13  # What a shell reports for a tool ended by a closed pipe.


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:  # Also refuses nan.
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import MODEL_NAME
    from serving.client import DEFAULT_TIMEOUT_SECONDS

    server = parser.add_mutually_exclusive_group(required=True)
    server.add_argument("--rest", metavar="URL",
                        help="REST API base, e.g. http://localhost:8501, or the model's URL "
                             "http://localhost:8501/v1/models/NAME (as `fakenews serve` prints it)")
    server.add_argument("--grpc", metavar="HOST:PORT", help="gRPC API, e.g. localhost:8500")
    parser.add_argument("--model-name", default=MODEL_NAME, metavar="NAME",
                        help="the served model's name, as `fakenews serve --model-name` (default: %(default)s)")
    parser.add_argument("--version", type=int, metavar="N", help="a specific version (default: the latest)")
    parser.add_argument("--title", default="", help="with --text")
    parser.add_argument("--author", default="", help="with --text")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the article's text")
    source.add_argument("--csv", metavar="FILE", help="CSV of articles: text, and optionally id, title, author")
    parser.add_argument("--out", metavar="FILE",
                        help=f"with --csv: write {','.join(OUTPUT_COLUMNS)} here, not to stdout")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="with --csv: articles per request, at most the server's max_batch_size "
                             "(serving/tfserving/batching_parameters.txt: 64) (default: %(default)s)")
    parser.add_argument("--explain", action="store_true",
                        help="also show the words that pushed each article hardest each way (the model's "
                             f"explain signature); with --csv as the columns {', '.join(EXPLAIN_COLUMNS)}")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="N",
                        help="with --explain: words shown each way (default: %(default)s)")
    parser.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                        help="per request (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    from serving.client import Article, ClientError, RestClient

    if args.csv is None and args.out:
        return _usage_error("--out goes with --csv")
    if args.csv is not None and (args.title or args.author):
        return _usage_error("--title and --author go with --text; with --csv they come from the file")
    if args.batch_size < 1:
        return _usage_error("--batch-size must be >= 1")
    if args.top < 1:
        return _usage_error("--top must be >= 1")
    if args.top != DEFAULT_TOP and not args.explain:
        return _usage_error("--top goes with --explain")

    client: ModelClient
    if args.rest:
        try:
            client = RestClient(args.rest, args.model_name, args.version, args.timeout)
        except ValueError as error:  # Not an http(s) address, or another model's URL.
            return _usage_error(f"--rest: {error}")
    else:
        from serving.grpc_client import GrpcClient  # Imports TensorFlow: only when asked for.

        client = GrpcClient(args.grpc, args.model_name, args.version, args.timeout)
    try:
        with client:
            if args.text is not None:
                article = Article(args.title, args.author, args.text)
                if args.explain:
                    explained = client.explain([article])[0]
                    print(_prediction_line(explained.prediction))
                    for line in _explanation_lines(explained, args.top):
                        print(line)
                else:
                    print(_prediction_line(client.predict([article])[0]), flush=True)
            else:
                _predict_csv(client, args.csv, args.out, args.batch_size, args.top if args.explain else None)
    except BrokenPipeError:
        return _stdout_closed()
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (OSError, csv.Error, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _prediction_line(prediction: Prediction) -> str:
    note = f"  ({READ_NOTHING})" if prediction.read_nothing else ""
    return (f"probability {prediction.probability:.6f}  "
            f"label {prediction.label} ({LABEL_NAMES.get(prediction.label, '?')}){note}")


def _explanation_lines(explained: Explanation, top: int) -> list[str]:
    lines = []
    for toward_unreliable, name in ((True, "unreliable"), (False, "reliable")):
        words = explained.strongest(top, toward_unreliable)
        shown = ", ".join(f"{word} ({share:+.4f})" for word, share in words) or "(no word)"
        lines.append(f"  toward {name + ':':<11} {shown}")
    return lines


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _stdout_closed() -> int:
    """The reader of stdout went away (`| head`): stop quietly, as Unix tools do.

    Python would otherwise report the BrokenPipeError again when it flushes stdout at exit;
    pointing stdout at /dev/null first is the remedy the Python docs give (signal module).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_SIGPIPE


class _Output:
    """The CSV writer for --out (created at the first write) or stdout; counts rows written."""

    def __init__(self, path: str | None, columns: tuple[str, ...]):
        self.path = path
        self.columns = columns
        self.rows = 0
        self._file: IO[str] | None = None
        self._writer: Callable[[list], object] | None = None

    def write(self, rows: list[list]) -> None:
        if self._writer is None:
            self._file = sys.stdout if self.path is None else open(self.path, "w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._file).writerow
            self._writer(list(self.columns))
        for row in rows:
            self._writer(row)
        self._file.flush()  # Per batch: a later failure loses nothing already scored.
        self.rows += len(rows)

    def where(self) -> str:
        return "stdout" if self.path is None else self.path

    def close(self) -> None:
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()


def _predict_csv(client: ModelClient, path: str, out_path: str | None, batch_size: int, top: int | None) -> None:
    """top: with --explain, the words per way in the EXPLAIN_COLUMNS; None without."""
    from tqdm import tqdm

    from serving.client import Article, ClientError

    csv.field_size_limit(CSV_FIELD_LIMIT)
    total = _count_rows(path)
    output = _Output(out_path, OUTPUT_COLUMNS + (EXPLAIN_COLUMNS if top else ()))
    read_nothing: list[str] = []
    # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") would otherwise be part of the first
    # column's name, and an `id` column would not be found.
    with open(path, encoding="utf-8-sig", newline="") as source:
        reader = csv.DictReader(source)
        if "text" not in (reader.fieldnames or []):
            raise InputError(f"{path} has no 'text' column (columns: {', '.join(reader.fieldnames or [])})")
        numbered = enumerate(reader, start=1)
        try:
            with tqdm(total=total, unit="article", file=sys.stderr, disable=None) as progress:
                while chunk := list(itertools.islice(numbered, batch_size)):
                    articles = [Article(row.get("title") or "", row.get("author") or "", row.get("text") or "")
                                for _, row in chunk]
                    rows = []
                    for (number, row), (prediction, words) in zip(chunk, _score(client, articles, top)):
                        row_id = row.get("id", number)
                        if prediction.read_nothing:
                            read_nothing.append(str(row_id))
                        rows.append(_output_row(row_id, prediction) + words)
                    output.write(rows)
                    progress.update(len(chunk))
        except ClientError as error:
            if output.rows:
                kept = f"{output.rows:,} of {total:,} rows scored before it were written to {output.where()}"
            else:
                kept = "no rows scored" + ("" if out_path is None else f"; {out_path} not written")
            raise ClientError(f"{error}; {kept}", error.status) from None
        finally:
            output.close()
    if output.rows == 0:
        output.write([])  # An empty CSV still gets its header.
        output.close()
    if read_nothing:
        shown = ", ".join(read_nothing[:SHOWN_IDS]) + (", …" if len(read_nothing) > SHOWN_IDS else "")
        print(f"warning: {len(read_nothing):,} row(s) with {READ_NOTHING} (token_count 0; "
              f"the score says nothing): id {shown}", file=sys.stderr)


def _score(client: ModelClient, articles: list[Article], top: int | None) -> list[tuple[Prediction, list[str]]]:
    """Each article's prediction and, with `top`, its EXPLAIN_COLUMNS' cells."""
    if top is None:
        return [(prediction, []) for prediction in client.predict(articles)]
    return [(explained.prediction, [" ".join(word for word, _ in explained.strongest(top, toward))
                                    for toward in (True, False)])
            for explained in client.explain(articles)]


def _output_row(row_id: object, prediction: Prediction) -> list:
    # 9 significant digits: the float32 probability exactly. token_count is empty for a model
    # pushed before that output existed.
    count = "" if prediction.token_count is None else prediction.token_count
    return [row_id, f"{prediction.probability:.9g}", prediction.label, count]


def _count_rows(path: str) -> int:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return max(0, sum(1 for _ in csv.reader(f)) - 1)
