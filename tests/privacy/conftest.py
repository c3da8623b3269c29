"""The command line's environment (the test database), for the commands these tests run."""

from tests.cli.conftest import env

__all__ = ["env"]
