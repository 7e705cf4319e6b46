"""ferdesk: real-time facial-expression recognition on the desktop."""

__version__ = "0.1.0"
