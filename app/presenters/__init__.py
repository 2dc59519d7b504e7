"""Presenters: each connects one widget to the document (refresh from ChangeSets, edits as commands)."""
