"""`transformer-keras` sub-commands of the language_model family (being written)."""


def register(commands):
    """Adds this family's sub-commands and demo step to `commands` (see cli.Commands)."""
