"""``python -m reorder``: the same as the ``reorder`` command."""

from .cli import main

main(prog_name="reorder")
