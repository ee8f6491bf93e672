"""The offline signing authority: keys, records, rendering, signing, registry, publishing."""
