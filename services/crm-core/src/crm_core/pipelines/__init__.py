"""Sales pipelines and their stages."""
