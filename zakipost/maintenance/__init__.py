"""Operator maintenance that spans domains."""
