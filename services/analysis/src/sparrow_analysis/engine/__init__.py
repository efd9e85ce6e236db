"""What the analysis worker hears: pulse, key, loudness, and the seam (librosa, pyloudnorm)."""
