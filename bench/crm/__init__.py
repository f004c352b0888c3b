"""Contact list and search latency at 100k contacts per tenant."""
