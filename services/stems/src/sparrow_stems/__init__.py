"""Sparrow's stems worker: splits audio into drums, bass, other and vocals with Demucs."""
