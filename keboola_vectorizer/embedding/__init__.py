"""Embedding providers; see base.py for the protocol and registry."""
