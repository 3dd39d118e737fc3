"""Seller Central customer-service bot: the machinery (no Amazon business rules here)."""

__version__ = "0.1.0"
