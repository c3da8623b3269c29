"""shipkey: delivers digital products the moment they are paid for."""

__version__ = "0.1.0"
