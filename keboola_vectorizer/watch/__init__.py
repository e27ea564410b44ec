"""`watch`: follow each project's Storage API events feed and re-index a project seconds after it changes.

feed.py (events since a cursor, with a look-back for late events), classify.py (which events change what),
settle.py (wait for a burst to end), cursor.py (the per-project cursor, kept in the store's state),
manifests.py (the fallback for tokens that cannot read all events), overlap.py (another writer's run that
overlapped a re-index), loop.py (the watcher), command.py (CLI).
"""
