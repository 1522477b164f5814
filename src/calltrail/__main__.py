"""``python -m calltrail`` runs the command line."""

from calltrail.cli import main

main()
