"""The schedulers people use instead of Schedo, measured in the same run: APScheduler 3 and
Celery beat with a Celery worker on Redis."""
