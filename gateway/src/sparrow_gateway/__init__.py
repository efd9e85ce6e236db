"""Sparrow's gateway: REST and SSE for browsers, gRPC to the services."""
