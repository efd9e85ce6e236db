"""Sparrow's generation worker: continues audio with MusicGen."""
