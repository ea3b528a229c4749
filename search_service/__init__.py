"""The search service: a text, an image or a known movie plus filters in, posters out."""
