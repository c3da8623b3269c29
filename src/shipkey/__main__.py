"""``python -m shipkey`` runs the command line."""

from shipkey.cli import main

main()
