"""File names inside the EvaluationReport artifact, and the names inside them: written by
writer.py, read by `fakenews report` and the run summary (pipeline/summary.py)."""

REPORT_TXT = "report.txt"  # The whole text report, as `fakenews report` prints it.
REPORT_JSON = "report.json"  # Its numbers: threshold, counts, slices, blessing checks, data.
CLASSIFICATION_REPORT_TXT = "classification_report.txt"
CLASSIFICATION_REPORT_JSON = "classification_report.json"  # scikit-learn's output_dict shape.
CONFUSION_MATRIX_PNG = "confusion_matrix.png"
ROC_PNG = "roc.png"
PRECISION_RECALL_PNG = "precision_recall.png"
MODEL_CARD_MD = "model_card.md"
EXPLANATION_HTML = "explanation.html"  # One eval article, its words coloured by their shares.

FIGURES = (CONFUSION_MATRIX_PNG, ROC_PNG, PRECISION_RECALL_PNG)

# report.json's "slices" are keyed by slice name; the whole eval split is this one.
OVERALL_SLICE = "overall"
