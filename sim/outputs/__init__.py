"""What comes out of a simulation: the tidy outcomes table, provenance, safe file writes, outcome figures."""
