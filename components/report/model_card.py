"""model_card.md: what the model is, what it was trained and judged on, and where it fails.

Sections after Mitchell et al., "Model Cards for Model Reporting" (2019). Every number comes
from this run's artifacts; only the intended use and the general limits are fixed text.
"""

from __future__ import annotations

from typing import Any

from components.report import layout
from components.report.inputs import Report
from components.report.metrics import format_classification_report
from components.report.render import (blessing_lines, explanation_heading, explanation_table, slice_table,
                                       slice_table_notes, threshold_choice)
from preprocessing import features

# Below this many eval examples a slice's AUC or F1 can swing by tenths between runs.
_SMALL_SLICE = 100

_INTENDED_USE = """\
- Reproducing the Kaggle LSTM fake-news notebook as a production pipeline, and comparing
  model variants on the same data and splits.
- Triage: ranking articles for a human fact-checker to read first.
- Not for removing, demoting or labelling content without human review, and not for judging
  whether an individual claim is true."""

_GENERAL_LIMITS = f"""\
- The labels say which source or fact-check an article came from, not whether each claim is
  true: the model learns the vocabulary and style that separate those sources, not facts. Where
  the data joins several corpora, it can learn which corpus an article belongs to.
- The author's name is part of the input text, so the model can learn who wrote an article (or
  which corpus has authors at all) rather than what it says: compare the `author_present` slices.
- English text only (English stopwords); words are hashed into {features.VOCAB_SIZE:,} ids, so
  unrelated words can share one; each article is cut to {features.MAX_LENGTH} tokens.
- The probabilities are not calibrated: read them as a ranking, and set the threshold from the
  precision-recall curve and the cost of each kind of error.
- News topics and outlets drift: re-evaluate on recent articles before relying on it."""


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _run_specific_limits(report: Report) -> list[str]:
    limits = []
    overall = report.evaluation.slices[layout.OVERALL_SLICE].confusion
    if overall.tp + overall.fp == 0:
        limits.append(f"- At threshold {report.served.threshold:.4g} the model calls no eval article "
                      "unreliable: it does no better than always answering `reliable`.")
    for name, result in report.evaluation.slices.items():
        if result.confusion.total < _SMALL_SLICE:
            limits.append(f"- Slice `{name}` has only {result.confusion.total} eval examples: "
                          "its metrics are noisy.")
    return limits


def _ensemble_note(training: dict[str, Any]) -> str:
    copies = training["hyperparameters"].get("ensemble_size", 1)
    if copies == 1:
        return ""
    return (f", {copies} copies trained side by side ({training['parameter_count']:,} parameters in all) and served "
            "as one network computing their mean (`components/fused.py`; the zeros between copies in its dense "
            "layers count below)")


def _architecture(hyperparameters: dict[str, Any]) -> str:
    """The model's parts (components/model.py), as a phrase."""
    parts = ([f"the notebook's LSTM over the token ids{' read both ways' if hyperparameters.get('bidirectional') else ''}"]
             if hyperparameters.get("lstm", True) else [])
    if hyperparameters.get("wide"):
        parts.append("a logistic regression over the TF-IDF of the words and word pairs")
    if hyperparameters.get("style"):
        parts.append("a small network over the article's style (`preprocessing/style.py`)")
    if hyperparameters.get("author"):
        parts.append("a weight per author (`preprocessing/author.py`)")
    return ", ".join(parts) + (", their logits added" if len(parts) > 1 else "")


def render(report: Report) -> str:
    training = report.training
    hyperparameters = markdown_table(
        ["hyperparameter", "value"], [[key, f"`{value}`"] for key, value in training["hyperparameters"].items()]
    )
    layers = markdown_table(
        ["layer", "weights", "parameters"],
        [[layer.name, ", ".join("×".join(map(str, shape)) for shape in layer.shapes), f"{layer.parameters:,}"]
         for layer in report.served.layers]
        + [["total", "", f"{sum(layer.parameters for layer in report.served.layers):,}"]],
    )
    splits = markdown_table(
        ["split", "articles", "unreliable", "share unreliable"],
        [[split, f"{c.rows:,}", f"{c.unreliable:,}", f"{c.unreliable / c.rows:.1%}"]
         for split, c in report.splits.items()],
    )
    tuned = training.get("tuned")  # Empty unless the pipeline ran its Tuner.
    tuned_line = ("- Tuned: the pipeline's Tuner chose " + ", ".join(f"`{k}={v}`" for k, v in tuned.items())
                  + " by validation log loss, over the preset's (components/search_space.py).\n") if tuned else ""
    validation_loss = training["history"].get("val_loss", [])
    best = f"; best epoch {training['best_epoch']}, validation loss {min(validation_loss):.4f}" if validation_loss else ""
    table = slice_table(report)
    sections = [
        "# Model card: fake-news classifier",
        "Generated by the pipeline's EvaluationReport component from this run's artifacts.",
        "## Model\n\n"
        f"- Task: classify a news article (title, author, text) as `unreliable` (label 1) or `reliable` (label 0).\n"
        f"- Artifact: `{report.model_uri}`\n"
        f"- Architecture (`components/model.py`): {_architecture(training['hyperparameters'])}; "
        f"preset `{training['hyperparameters']['preset']}`"
        f"{_ensemble_note(training)}; layers with weights, as served:\n\n{layers}\n\n"
        f"- Training: {training['epochs_run']} of at most {training['hyperparameters']['epochs']} epochs "
        f"(early stopping on the loss of a held-out part of the train split){best}.\n"
        f"{tuned_line}"
        f"- Decision threshold: {report.served.threshold:.4g}, stored in the SavedModel: "
        f"probability >= threshold is called `unreliable`; {threshold_choice(training)} "
        "(components/decision_threshold.py).\n\n"
        f"{hyperparameters}",
        "## Data\n\n"
        f"- Source: `{report.data_source}`\n"
        "- Checked and ingested by the pipeline's ExampleGen (`components/checked_csv_example_gen.py`),"
        " split by a hash of `id`: " + "; ".join(report.input_counts.summary_lines()) + ".\n\n"
        f"{splits}",
        "## Evaluation (eval split)\n\n"
        f"```\n{format_classification_report(report.classification)}```\n\n"
        f"![Confusion matrix]({layout.CONFUSION_MATRIX_PNG}) ![ROC curve]({layout.ROC_PNG}) "
        f"![Precision-recall curve]({layout.PRECISION_RECALL_PNG})\n\n"
        "Metrics by slice (precision, recall and F1 of `unreliable`):\n\n"
        + markdown_table(*table) + "".join(f"\n\n{note}" for note in slice_table_notes(table[1])),
        "## Blessing\n\n" + "\n".join(f"- {line}" for line in blessing_lines(report)),
        "## Explanations\n\n" + explanation_heading(report) + ":\n\n" + markdown_table(*explanation_table(report))
        + (f"\n\nOne eval article, its words coloured by their shares: [{layout.EXPLANATION_HTML}]"
           f"({layout.EXPLANATION_HTML}). The serving model returns the same for any article "
           "(its `explain` signature).\n" if report.explanations.example else ""),
        "## Intended use\n\n" + _INTENDED_USE,
        "## Known limits\n\n" + "\n".join([*_run_specific_limits(report), _GENERAL_LIMITS]),
    ]
    return "\n\n".join(sections) + "\n"
