"""The EvaluationReport component (component.py) and the pure pieces it is built from:
metrics.py (confusion counts -> classification report, curves), plots.py (matplotlib figures),
render.py (text report), model_card.py (Markdown), read by inputs.py / tfma_results.py /
blessing.py from the run's artifacts and written by writer.py."""
