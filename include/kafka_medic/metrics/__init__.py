"""Load from real brokers: samplers, the metrics store, and windows that turn samples into the load model."""
