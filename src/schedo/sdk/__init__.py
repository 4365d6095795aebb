"""The Schedo SDK: ``Schedo`` (workers), ``Client`` / ``AsyncClient`` (management API),
typed models and errors. Depends only on httpx and the standard library."""
