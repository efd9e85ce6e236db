"""Sparrow's chain service: the one owner of durable state."""
