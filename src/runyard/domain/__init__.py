"""Pure domain rules: run specs, statuses and their transitions. No I/O here."""
