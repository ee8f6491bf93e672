"""The public static site's sources, shipped as the package ``certseal_site``.

Templates, the string catalog and static assets that ``authority.site_build`` renders into a
published folder; read through ``importlib.resources`` so an installed wheel publishes too.
"""
