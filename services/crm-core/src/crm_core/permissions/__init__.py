"""Who may do what in crm-core: role permissions per action, and record visibility.

`roles.authorize` is the one check every servicer runs before its work; `visibility`
limits every ORM query (and the driver read) of a caller whose role sees only its own
records; `rules` keeps the per-role, per-object-type visibility settings.
"""
