"""Database access: one engine factory, one base, one dialect seam."""
