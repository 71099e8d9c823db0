"""Discovery: representations learnt without labels, a vector index for similarity search, anomaly ranking and
the latent-space explorer (issue 17; so far the vector index, `index.VectorIndex`, and the astroPT-style patch
transformer, `astropt.PatchGPT`, not yet trained or shipped)."""
