"""Fixture cases for gen_pipeline_fixtures.py, one module per estimator family."""
