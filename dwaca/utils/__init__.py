"""The bottom layer: helpers that import nothing else from dwaca (file writes, distributed runs, fault injection, the
output folder lock, user errors)."""
