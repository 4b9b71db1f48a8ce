"""Curated answers approved by the centre's consultants and staff: the table, the service, export and the CLI."""
