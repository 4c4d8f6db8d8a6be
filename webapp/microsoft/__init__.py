"""Graph and SharePoint clients, transport policy and typed errors: no Flask."""
