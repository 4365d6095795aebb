"""The Schedo server (needs the ``server`` extra). Nothing here is imported by the SDK."""
