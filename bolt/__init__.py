"""Bolt: the state engine for AI-agent swarms."""

__version__ = "0.1.0"
