"""A local stand-in for DOKU: the Checkout API, hosted payment pages, signed notifications,
the Status API and fault injection, for demos and tests without credentials or network.

It imports only the pure signing and payload modules and keeps its state in memory, never
in the app's tables, so it cannot hide a bug in the app it is testing.
"""
