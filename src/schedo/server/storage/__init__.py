"""Storage: repository protocols (contracts.py) and their SQLAlchemy Core implementation."""
