"""Profile: edit the fields a person owns, learn who owns the rest."""
