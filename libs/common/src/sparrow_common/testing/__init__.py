"""Helpers for Sparrow's tests: real audio files made with real encoders."""
