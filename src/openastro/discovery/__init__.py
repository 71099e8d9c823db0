"""Discovery: representations learnt without labels, a vector index for similarity search, anomaly ranking and
the latent-space explorer (issue 17, begun): the vector index (`index.VectorIndex`), the astroPT-style patch
transformer (`astropt.PatchGPT`, not yet trained or shipped), image sets (`images.read_images`) and the
linear-probe protocol with its baselines (`probe`)."""
