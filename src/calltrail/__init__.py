"""Calltrail: a self-hosted call-history service with CometChat- and Bird-compatible APIs."""

__version__ = "0.1.0"
