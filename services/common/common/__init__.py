"""Shared infrastructure for every service: config, database, logging, outbox, base errors.

Business rules never live here.
"""
