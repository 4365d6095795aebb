"""``python -m schedo.cli`` runs the ``schedo`` command."""

from . import main

main()
