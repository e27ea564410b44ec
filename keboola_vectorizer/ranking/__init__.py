"""Search-side ranking stages over the fused candidates: identity, intent, lineage, joint evidence."""
