"""The alert broker: an alert store (DuckDB) filled from ZTF Avro packets, and SQL filters over it."""
