"""Dataset readers, synthetic posters and the ingest worker that fills the index."""
