"""Second factor: TOTP enrollment, recovery codes, login challenges, the tenant requirement."""
