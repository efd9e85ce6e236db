"""Plumbing shared by every Sparrow service: errors, gRPC server bootstrap, audio."""
