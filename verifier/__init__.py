"""The public verification service: is this file a genuine, current document?"""

from verifier.app import create_app

__all__ = ["create_app"]
