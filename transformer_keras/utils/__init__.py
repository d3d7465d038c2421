"""Package-wide helpers that import nothing else of the package: argument
validation (`validation.py`) and crash-safe file writes (`atomic.py`)."""
