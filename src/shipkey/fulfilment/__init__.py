"""Turning a completed purchase into goods, exactly once."""
