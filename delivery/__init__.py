"""Delivery: the documents the authority issued, sent to the people who receive them.

An actor on the authority's side: it reads the authority's registry and documents through
``authority.service.Authority`` (the authority never imports it) and keeps its own append-only
outbox in ``$CERTSEAL_HOME/delivery.sqlite``: orders and their recipients, deliveries by e-mail
(DKIM-signed, over SMTP with STARTTLS) and to WES by SFTP, each state an appended event.
See ``docs/delivery.md``.
"""
