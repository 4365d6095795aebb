"""Process plumbing the loops and services share: the wake-up bus, its PostgreSQL bridge, the
clocks, and the one wake-or-timeout loop the background loops run on."""
