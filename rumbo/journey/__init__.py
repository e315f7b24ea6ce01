"""The journey document: loading with line marks, the JSON Schema, validation and compilation."""
