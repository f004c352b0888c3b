"""Access tokens (ES256 JWT), their signing keys and JWKS, and refresh tokens."""
