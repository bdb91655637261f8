"""Text preprocessing shared by training and serving.

Everything the model sees is computed here inside the TensorFlow graph (`text`, `porter`,
`transform`), so TF Serving accepts raw strings. `reference` is the notebook's plain-Python
cleaning, kept beside the graph code so parity tests can compare the two.
"""
