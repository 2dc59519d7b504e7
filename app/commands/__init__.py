"""Undo commands: each wraps a ChangeSet applied in one transaction."""
