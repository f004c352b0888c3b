"""Developer tooling: run the suite on embedded PostgreSQL and NATS, generate protobuf code."""
