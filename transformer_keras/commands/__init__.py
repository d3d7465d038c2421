"""One module per model family adds its sub-commands to `transformer-keras`."""
