"""HTTP APIs: one module per wire dialect (they never import each other) plus shared plumbing."""
