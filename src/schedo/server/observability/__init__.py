"""What the server tells about itself: structured logs (and keeping secrets out of them),
Prometheus metrics, and the metered store that counts what storage did."""
