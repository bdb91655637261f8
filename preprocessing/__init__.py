"""Text preprocessing shared by training and serving.

Everything the model sees is computed here inside the TensorFlow graph (`text`, `porter`,
`transform`), so TF Serving accepts raw strings. The notebook's plain-Python cleaning, which
the parity tests compare this with, is tests/reference.py: test code, not shipped.
"""
