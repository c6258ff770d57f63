"""HTTP API v2 (plus v1 compatibility) as a socket-free dispatcher."""
