"""Poster search: find movie posters described in words, narrowed by genre, year and rating."""
