"""``python -m cli`` runs the `cur` command."""

from cli.main import main

if __name__ == "__main__":
    main(prog_name="cur")
