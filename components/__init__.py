"""TFX module code (Trainer run_fn, model, signatures, evaluation config) and custom components."""
