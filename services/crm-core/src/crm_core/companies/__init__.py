"""Companies: the organizations a tenant sells to, and the contacts who work there."""
