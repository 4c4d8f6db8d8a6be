"""Photo: upload, crop, write to Graph, offer to SharePoint, check what it serves, undo."""
