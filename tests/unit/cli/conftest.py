from tests.unit.cli.daemon_stub import daemon_answering

__all__ = ["daemon_answering"]
