"""Discovery: representations learnt without labels, a vector index for similarity search, anomaly ranking and
the latent-space explorer (issue 17, begun): the vector index (`index.VectorIndex`), the astroPT-style patch
transformer (`astropt.PatchGPT`) and its estimator (`encoder.PatchEncoder`: next-patch pretraining through the
shared Trainer, one bundle, torch or ONNX Runtime; no weights shipped yet), image sets (`images.read_images`),
the linear-probe protocol with its baselines (`probe`), and anomaly ranking with a user's feedback in the
Astronomaly manner (`anomaly.AnomalyRanker`; `ranking`: a workspace's index; `rare`: injected lenses and
rings; `feedback.evaluate_feedback`: precision at k before and after)."""
