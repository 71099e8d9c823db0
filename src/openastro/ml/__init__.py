"""The shared training kit: experiment tracking (MLflow in the workspace) and, later, trainers and export."""
