"""Patch the standard library for eventlet before anything imports sockets (nameko needs it; without
it broker tests hang). It also makes psycopg2 cooperative."""
import eventlet

eventlet.monkey_patch()
