"""Photo: upload, crop, write to Graph, offer to SharePoint, verify what it serves, undo, re-sync."""
