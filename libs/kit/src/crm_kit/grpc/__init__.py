"""gRPC plumbing: server bootstrap, auth and context interceptors, client channels."""
