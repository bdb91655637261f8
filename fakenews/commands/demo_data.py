"""`fakenews demo-data DIR`: write the project's small synthetic demo CSV."""

from __future__ import annotations

import argparse

from pipeline import demo_data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", help="folder to write the CSV (and a README saying it is synthetic) into")
    parser.add_argument("--rows", type=int, default=600, help="number of articles (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    path = demo_data.generate(args.dir, rows=args.rows, seed=args.seed)
    print(f"Wrote {args.rows} synthetic articles (not real news) to {path}")
    return 0
