"""Helpdesk: the staff page of deep links and where a link to no page lands."""
