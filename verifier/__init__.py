"""The public verification service: is this file a genuine, current document?

The engine (``verifier.engine``) needs no web framework, so an offline command can run the same
checks; the web layer (``verifier.app``) is one module on top of it.
"""
