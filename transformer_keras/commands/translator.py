"""`transformer-keras` sub-commands of the translator family (being written)."""


def register(commands):
    """Adds this family's sub-commands and demo step to `commands` (see cli.Commands)."""
