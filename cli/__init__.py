"""The `cur` command: a shell over the domain (``pipeline/``). Nothing imports this package.

``cli.main:main`` is the entry point; each module holds the commands of one area as
module-level click commands; ``cli.errors`` is the one map from failures to exit codes.
"""
