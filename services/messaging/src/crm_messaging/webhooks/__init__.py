"""Signed outbound webhooks: endpoints, fan-out of public events, signed delivery with
retries, the delivery log, and the health rules that disable a failing endpoint."""
