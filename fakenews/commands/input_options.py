"""The input flags `fakenews run` and `fakenews stage` share: the data, which of its columns
hold what, and what to do with invalid labels (`compile-kubeflow` takes the last two; its data
is a bucket folder; `score` and `drift` the columns but the label). One definition, so every
command reads a file alike."""

from __future__ import annotations

import argparse
import dataclasses
import typing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import Columns

    parser.add_argument("--data", required=True,
                        help=f"CSV file or folder of CSV files ({','.join(f.name for f in dataclasses.fields(Columns))})")
    add_column_arguments(parser)


def add_column_arguments(parser: argparse.ArgumentParser, labelled: bool = True) -> None:
    """--drop-invalid and one --<field>-column flag per field of pipeline.config.Columns;
    labelled=False (articles to score): the columns but the label, and no --drop-invalid."""
    from pipeline.config import Columns

    columns = [field for field in dataclasses.fields(Columns) if labelled or field.name != "label"]
    hints = typing.get_type_hints(Columns)
    if labelled:
        parser.add_argument("--drop-invalid", action="store_true",
                            help="skip and count rows whose label is not 0/1 instead of failing")
    for field in columns:
        optional = type(None) in typing.get_args(hints[field.name])  # Columns says which the data may lack.
        parser.add_argument(f"--{field.name}-column", default=field.default, metavar="NAME",
                            help=f"input column holding {field.name} (default: %(default)s)"
                            + ("; '' if the data has none" if optional else ""))


def columns_from(args: argparse.Namespace):
    """The `pipeline.config.Columns` the flags name ('' for a column the data does not have)."""
    from pipeline.config import Columns

    return Columns(id=args.id_column, title=args.title_column or None, author=args.author_column or None,
                   text=args.text_column, label=args.label_column)


def article_columns_from(args: argparse.Namespace):
    """The `components.input_checks.ArticleColumns` (no label) the flags of an unlabelled
    add_column_arguments name."""
    from components.input_checks import ArticleColumns

    return ArticleColumns(id=args.id_column, title=args.title_column or None, author=args.author_column or None,
                          text=args.text_column)
