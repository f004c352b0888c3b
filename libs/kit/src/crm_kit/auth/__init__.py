"""Access-token verification shared by the gateway and every service."""
