"""``python -m runyard``: the CLI (this is how the CLI starts a background daemon)."""

from runyard.cli.app import main

if __name__ == "__main__":
    main()
