"""Events: transactional outbox, relay to JetStream, durable consumers that dedupe."""
