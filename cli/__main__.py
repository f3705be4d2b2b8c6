"""``python -m cli`` runs the `cur` command."""

from cli.main import main

main(prog_name="cur")
