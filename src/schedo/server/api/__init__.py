"""HTTP API: thin routers over the services (SPEC section 2)."""
