"""Photo: upload, crop, write to Graph, push to SharePoint, verify, undo, re-sync."""
