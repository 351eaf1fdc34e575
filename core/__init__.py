"""Prism's Django-free core: what every app may use and nothing here may import an app or Django.

Quality presets, secret encryption, redaction, the state-table base, hooks and the pure parts of
leases. The layering (docs/decisions.md, "One direction") is checked by import-linter.
"""
