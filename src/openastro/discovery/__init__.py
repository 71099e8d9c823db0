"""Discovery: representations learnt without labels, a vector index for similarity search, anomaly ranking and
the latent-space explorer (issue 17; so far the index, `index.VectorIndex`)."""
