"""HTTP layer: one blueprint per resource area; views are a few lines each."""
