"""Frame quality: per-frame features, site-normalised LightGBM verdicts with reasons, and an autoencoder
anomaly score.

A capability (floor 4): imports openastro.core, openastro.image and, for training data, openastro.sim.
torch and lightgbm load only with the models, not on `import openastro.quality`.
"""
