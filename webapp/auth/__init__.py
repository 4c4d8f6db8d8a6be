"""Sign-in with MSAL (flow.py, no Flask), its views, the login guard and safe deep links."""
