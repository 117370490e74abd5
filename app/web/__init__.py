"""Web surfaces served by tierwise itself: the storefront widget (``widget/``) and its demo page."""
