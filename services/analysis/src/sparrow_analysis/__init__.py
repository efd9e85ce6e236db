"""Sparrow's analysis worker: tempo, beats, bars, key and loudness of a clip, and a take's seam report."""
