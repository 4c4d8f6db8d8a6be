"""Your changes: the person's own history of what they changed through the app."""
